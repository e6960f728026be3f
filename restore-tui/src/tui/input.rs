//! A one-line text field: the value and where the cursor is.

/// An edit of a text field, from a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEdit {
    Insert(char),
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    /// Ctrl-U: empty the field.
    Clear,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    value: String,
    /// In characters, 0..=len.
    cursor: usize,
}

impl TextInput {
    /// A field holding `value`, the cursor at its end.
    pub fn new(value: impl Into<String>) -> TextInput {
        let value = value.into();
        let cursor = value.chars().count();
        TextInput { value, cursor }
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.value
            .char_indices()
            .nth(chars)
            .map_or(self.value.len(), |(i, _)| i)
    }

    pub fn apply(&mut self, edit: TextEdit) {
        let len = self.value.chars().count();
        match edit {
            TextEdit::Insert(c) if !c.is_control() => {
                let at = self.byte_at(self.cursor);
                self.value.insert(at, c);
                self.cursor += 1;
            }
            TextEdit::Insert(_) => {}
            TextEdit::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_at(self.cursor);
                self.value.remove(at);
            }
            TextEdit::Backspace => {}
            TextEdit::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.value.remove(at);
            }
            TextEdit::Delete => {}
            TextEdit::Left => self.cursor = self.cursor.saturating_sub(1),
            TextEdit::Right => self.cursor = (self.cursor + 1).min(len),
            TextEdit::Home => self.cursor = 0,
            TextEdit::End => self.cursor = len,
            TextEdit::Clear => {
                self.value.clear();
                self.cursor = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_at_the_cursor() {
        let mut t = TextInput::new("/mnt/x");
        assert_eq!(t.cursor(), 6);
        t.apply(TextEdit::Backspace);
        t.apply(TextEdit::Insert('y'));
        assert_eq!(t.value(), "/mnt/y");
        t.apply(TextEdit::Home);
        t.apply(TextEdit::Delete);
        t.apply(TextEdit::Insert('|'));
        assert_eq!(t.value(), "|mnt/y");
        t.apply(TextEdit::Right);
        t.apply(TextEdit::Insert('é'));
        t.apply(TextEdit::Left);
        t.apply(TextEdit::Left);
        t.apply(TextEdit::Backspace);
        assert_eq!(t.value(), "mént/y");
        t.apply(TextEdit::Insert('\u{7}'));
        assert_eq!(t.value(), "mént/y");
        t.apply(TextEdit::Clear);
        assert_eq!((t.value(), t.cursor()), ("", 0));
    }
}
