//! An error and its causes as one line of text, for reports that outlive the error value.

/// "what failed: why: deeper why", skipping a cause whose text the line already holds.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read /x")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn joins_the_causes_once() {
        let e = Outer(std::io::Error::from_raw_os_error(2));
        assert_eq!(
            chain(&e),
            "cannot read /x: No such file or directory (os error 2)"
        );
        let io = std::io::Error::from_raw_os_error(2);
        assert_eq!(chain(&io), "No such file or directory (os error 2)");
    }
}
