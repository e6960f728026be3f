//! The file tree of the Files screen, read lazily from the catalog.
//!
//! A catalog holds one record per file and can be millions of lines long, so the tree never
//! holds it: a directory's children are read when it is expanded, by one pass over the
//! catalog ([`CatalogSource::scan`]). The same pass adds up what lies below each child
//! directory (files and bytes), so a directory selected before it was ever opened still
//! says how much it holds. Memory grows with what the user opened, not with the backup.
//!
//! Selection is kept on the nodes read so far: a node is wholly selected, not at all, or
//! partly (only once its children are read). Children read later take their parent's
//! state, which is how "select /home" covers files nobody has looked at.

use anyhow::Context;
use rescue_core::catalog::{CatalogKind, CatalogReader, CatalogRecord};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;

/// Where the catalog's records come from: one call of `scan` is one pass, in catalog order.
pub trait CatalogSource: fmt::Debug {
    /// Calls `visit` with each record in catalog order until it returns false. Returns the
    /// problems met on the way (lines that could not be read, which are skipped); an error
    /// only when the catalog cannot be read at all.
    fn scan(
        &mut self,
        visit: &mut dyn FnMut(&CatalogRecord) -> bool,
    ) -> anyhow::Result<Vec<String>>;
}

/// A catalog held in memory (tests, and small catalogs).
#[derive(Debug, Clone, Default)]
pub struct MemoryCatalog {
    pub records: Vec<CatalogRecord>,
    /// How many passes were made: tests check that the tree reads lazily.
    pub scans: usize,
}

impl MemoryCatalog {
    pub fn new(records: Vec<CatalogRecord>) -> MemoryCatalog {
        MemoryCatalog { records, scans: 0 }
    }
}

impl CatalogSource for MemoryCatalog {
    fn scan(
        &mut self,
        visit: &mut dyn FnMut(&CatalogRecord) -> bool,
    ) -> anyhow::Result<Vec<String>> {
        self.scans += 1;
        for r in &self.records {
            if !visit(r) {
                break;
            }
        }
        Ok(Vec::new())
    }
}

/// The catalog file (`/rescue/catalog.zst`), opened anew and streamed for every pass.
pub struct CatalogFile<F> {
    name: String,
    open: F,
}

impl<F> CatalogFile<F> {
    /// `name` says where the catalog is, for messages; `open` gives its bytes from the start.
    pub fn new(name: impl Into<String>, open: F) -> CatalogFile<F> {
        CatalogFile {
            name: name.into(),
            open,
        }
    }
}

impl<F> fmt::Debug for CatalogFile<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatalogFile")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// At most this many problems are listed one by one from a pass; the rest are counted.
const MAX_LISTED_PROBLEMS: usize = 5;

impl<F, R> CatalogSource for CatalogFile<F>
where
    F: FnMut() -> std::io::Result<R>,
    R: Read,
{
    fn scan(
        &mut self,
        visit: &mut dyn FnMut(&CatalogRecord) -> bool,
    ) -> anyhow::Result<Vec<String>> {
        let input = (self.open)().with_context(|| format!("opening the catalog {}", self.name))?;
        let reader = CatalogReader::new(input)
            .with_context(|| format!("reading the catalog {}", self.name))?;
        let mut problems = Vec::new();
        let mut unlisted = 0usize;
        for item in reader {
            match item {
                Ok(record) => {
                    if !visit(&record) {
                        break;
                    }
                }
                Err(e) if problems.len() < MAX_LISTED_PROBLEMS => {
                    problems.push(format!("catalog {}: {e}", self.name));
                }
                Err(_) => unlisted += 1,
            }
        }
        if unlisted > 0 {
            problems.push(format!(
                "catalog {}: {unlisted} more unreadable line(s) skipped",
                self.name
            ));
        }
        Ok(problems)
    }
}

/// How much of a node is selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sel {
    None,
    /// Some of what lies below (a directory whose children were read).
    Part,
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    File,
    Symlink { target: Vec<u8> },
    HardLink,
    Device,
    Fifo,
}

impl NodeKind {
    fn of(kind: &CatalogKind) -> NodeKind {
        match kind {
            CatalogKind::Dir => NodeKind::Dir,
            CatalogKind::File => NodeKind::File,
            CatalogKind::Symlink { target } => NodeKind::Symlink {
                target: target.clone(),
            },
            CatalogKind::HardLink { .. } => NodeKind::HardLink,
            CatalogKind::Char { .. } | CatalogKind::Block { .. } => NodeKind::Device,
            CatalogKind::Fifo => NodeKind::Fifo,
        }
    }
}

/// One file or directory of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Relative to the captured root ("home/ann"); empty for the root.
    pub path: Vec<u8>,
    pub kind: NodeKind,
    /// The catalog index (0 for the root and for directories the catalog only implies).
    pub index: u64,
    /// Files (anything but directories) and bytes of regular files: the node itself, or
    /// everything below a directory.
    pub files: u64,
    pub bytes: u64,
    /// 0 for the root.
    pub depth: usize,
    pub parent: Option<usize>,
    /// `None` until read.
    pub children: Option<Vec<usize>>,
    pub expanded: bool,
    pub sel: Sel,
}

impl Node {
    /// The last component ("/" for the root).
    pub fn name(&self) -> String {
        if self.path.is_empty() {
            return "/".to_string();
        }
        let start = self
            .path
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |i| i + 1);
        String::from_utf8_lossy(&self.path[start..]).into_owned()
    }

    pub fn is_dir(&self) -> bool {
        self.kind == NodeKind::Dir
    }

    /// "/home/ann" as the user knows it.
    pub fn display_path(&self) -> String {
        format!("/{}", String::from_utf8_lossy(&self.path))
    }
}

/// A child as one pass over the catalog found it.
#[derive(Debug, Clone)]
struct Child {
    path: Vec<u8>,
    kind: NodeKind,
    index: u64,
    files: u64,
    bytes: u64,
}

/// What a record adds to the totals of the directories above it.
fn contribution(r: &CatalogRecord) -> (u64, u64) {
    match r.kind {
        CatalogKind::Dir => (0, 0),
        CatalogKind::File => (1, r.size),
        _ => (1, 0),
    }
}

/// `path` relative to `dir` when it lies below it ("" is the root).
fn below<'a>(path: &'a [u8], dir: &[u8]) -> Option<&'a [u8]> {
    if dir.is_empty() {
        return Some(path);
    }
    (path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/')
        .then(|| &path[dir.len() + 1..])
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
        p.extend_from_slice(dir);
        p.push(b'/');
        p.extend_from_slice(name);
        p
    }
}

/// The children of each of `dirs`, in catalog order, with what lies below each, in one
/// pass. A directory the catalog implies (files below it, no record of its own) is listed
/// too.
fn list_children(
    source: &mut dyn CatalogSource,
    dirs: &[Vec<u8>],
) -> anyhow::Result<(Vec<Vec<Child>>, Vec<String>)> {
    /// A directory's children so far, and where each name is among them.
    type Listing = (Vec<Child>, HashMap<Vec<u8>, usize>);
    let mut lists: Vec<Listing> = dirs.iter().map(|_| Default::default()).collect();
    let problems = source.scan(&mut |r: &CatalogRecord| {
        if r.path.is_empty() || r.path == b"." {
            return true;
        }
        for (dir, (children, by_name)) in dirs.iter().zip(lists.iter_mut()) {
            let Some(rest) = below(&r.path, dir) else {
                continue;
            };
            match rest.iter().position(|&b| b == b'/') {
                None => {
                    let (files, bytes) = contribution(r);
                    match by_name.get(rest) {
                        // Implied before its own record came: the record says what it is.
                        Some(&i) => {
                            children[i].kind = NodeKind::of(&r.kind);
                            children[i].index = r.index;
                        }
                        None => {
                            by_name.insert(rest.to_vec(), children.len());
                            children.push(Child {
                                path: r.path.clone(),
                                kind: NodeKind::of(&r.kind),
                                index: r.index,
                                files,
                                bytes,
                            });
                        }
                    }
                }
                Some(cut) => {
                    let name = &rest[..cut];
                    let i = match by_name.get(name) {
                        Some(&i) => i,
                        None => {
                            by_name.insert(name.to_vec(), children.len());
                            children.push(Child {
                                path: join(dir, name),
                                kind: NodeKind::Dir,
                                index: 0,
                                files: 0,
                                bytes: 0,
                            });
                            children.len() - 1
                        }
                    };
                    let (files, bytes) = contribution(r);
                    children[i].files += files;
                    children[i].bytes += bytes;
                }
            }
        }
        true
    })?;
    Ok((lists.into_iter().map(|(c, _)| c).collect(), problems))
}

/// ASCII case-insensitive `needle` in `hay`; `needle` is lower case.
fn contains_folded(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay.windows(needle.len()).any(|w| {
            w.iter()
                .zip(needle)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
        })
}

/// The tree: the nodes read so far, and the rows an expanded view shows.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    visible: Vec<usize>,
    /// Problems met reading the catalog (skipped lines, a catalog that cannot be read).
    pub problems: Vec<String>,
}

/// The root is node 0.
pub const ROOT: usize = 0;

impl Tree {
    /// Reads the top level of the catalog (one pass), everything selected.
    pub fn load(source: &mut dyn CatalogSource) -> Tree {
        let mut tree = Tree {
            nodes: vec![Node {
                path: Vec::new(),
                kind: NodeKind::Dir,
                index: 0,
                files: 0,
                bytes: 0,
                depth: 0,
                parent: None,
                children: None,
                expanded: false,
                sel: Sel::All,
            }],
            visible: Vec::new(),
            problems: Vec::new(),
        };
        match list_children(source, &[Vec::new()]) {
            Ok((mut lists, problems)) => {
                tree.problems.extend(problems);
                let children = lists.pop().unwrap_or_default();
                tree.nodes[ROOT].files = children.iter().map(|c| c.files).sum();
                tree.nodes[ROOT].bytes = children.iter().map(|c| c.bytes).sum();
                tree.attach(ROOT, children);
                tree.nodes[ROOT].expanded = true;
            }
            Err(e) => tree.problems.push(format!("{e:#}")),
        }
        tree.refresh();
        tree
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// The nodes shown, in order: the root, then every expanded directory's children.
    pub fn rows(&self) -> &[usize] {
        &self.visible
    }

    /// The row showing node `i`, when it is shown.
    pub fn row_of(&self, i: usize) -> Option<usize> {
        self.visible.iter().position(|&n| n == i)
    }

    pub fn root(&self) -> &Node {
        &self.nodes[ROOT]
    }

    fn attach(&mut self, parent: usize, children: Vec<Child>) {
        let depth = self.nodes[parent].depth + 1;
        // Children take the state of a parent that is wholly in or out.
        let sel = match self.nodes[parent].sel {
            Sel::Part => Sel::None,
            s => s,
        };
        let mut ids = Vec::with_capacity(children.len());
        for c in children {
            ids.push(self.nodes.len());
            self.nodes.push(Node {
                path: c.path,
                kind: c.kind,
                index: c.index,
                files: c.files,
                bytes: c.bytes,
                depth,
                parent: Some(parent),
                children: None,
                expanded: false,
                sel,
            });
        }
        self.nodes[parent].children = Some(ids);
    }

    fn refresh(&mut self) {
        let mut rows = Vec::new();
        let mut stack = vec![ROOT];
        while let Some(i) = stack.pop() {
            rows.push(i);
            if self.nodes[i].expanded {
                if let Some(children) = &self.nodes[i].children {
                    stack.extend(children.iter().rev());
                }
            }
        }
        self.visible = rows;
    }

    /// Opens directory `i`, reading its children on the first time (one pass).
    pub fn expand(&mut self, source: &mut dyn CatalogSource, i: usize) -> anyhow::Result<()> {
        if !self.nodes[i].is_dir() || self.nodes[i].expanded {
            return Ok(());
        }
        if self.nodes[i].children.is_none() {
            let path = self.nodes[i].path.clone();
            let (mut lists, problems) = list_children(source, &[path])?;
            self.problems.extend(problems);
            self.attach(i, lists.pop().unwrap_or_default());
        }
        self.nodes[i].expanded = true;
        self.refresh();
        Ok(())
    }

    /// Closes directory `i`; its children stay read (and selected as they were).
    pub fn collapse(&mut self, i: usize) {
        if self.nodes[i].expanded {
            self.nodes[i].expanded = false;
            self.refresh();
        }
    }

    /// Selects node `i` with everything below it, or deselects it when it was wholly
    /// selected.
    pub fn toggle(&mut self, i: usize) {
        let to = if self.nodes[i].sel == Sel::All {
            Sel::None
        } else {
            Sel::All
        };
        self.set_sel(i, to);
    }

    /// Sets node `i` and everything below it read so far, then the directories above.
    pub fn set_sel(&mut self, i: usize, to: Sel) {
        let mut stack = vec![i];
        while let Some(n) = stack.pop() {
            self.nodes[n].sel = to;
            if let Some(c) = &self.nodes[n].children {
                stack.extend(c.iter().copied());
            }
        }
        let mut up = self.nodes[i].parent;
        while let Some(p) = up {
            let children = self.nodes[p].children.as_deref().unwrap_or_default();
            let all = children.iter().all(|&c| self.nodes[c].sel == Sel::All);
            let none = children.iter().all(|&c| self.nodes[c].sel == Sel::None);
            self.nodes[p].sel = match (all, none) {
                (true, _) => Sel::All,
                (_, true) => Sel::None,
                _ => Sel::Part,
            };
            up = self.nodes[p].parent;
        }
    }

    /// The paths to restore, each with everything below it: empty for everything, `None`
    /// when nothing is selected.
    pub fn selection(&self) -> Option<Vec<Vec<u8>>> {
        match self.nodes[ROOT].sel {
            Sel::None => None,
            Sel::All => Some(Vec::new()),
            Sel::Part => {
                let mut out = Vec::new();
                let mut stack = vec![ROOT];
                while let Some(n) = stack.pop() {
                    let node = &self.nodes[n];
                    match node.sel {
                        Sel::All => out.push(node.path.clone()),
                        Sel::Part => {
                            if let Some(c) = &node.children {
                                stack.extend(c.iter().rev());
                            }
                        }
                        Sel::None => {}
                    }
                }
                Some(out)
            }
        }
    }

    /// Files and bytes selected.
    pub fn selected_totals(&self) -> (u64, u64) {
        let (mut files, mut bytes) = (0, 0);
        let mut stack = vec![ROOT];
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n];
            match node.sel {
                Sel::All => {
                    files += node.files;
                    bytes += node.bytes;
                }
                Sel::Part => {
                    if let Some(c) = &node.children {
                        stack.extend(c.iter().copied());
                    }
                }
                Sel::None => {}
            }
        }
        (files, bytes)
    }

    /// The first path after catalog index `after` whose path holds `text` (ASCII case
    /// ignored), else the first one from the start: one pass at most.
    pub fn find(
        &mut self,
        source: &mut dyn CatalogSource,
        text: &str,
        after: u64,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let needle = text.to_ascii_lowercase().into_bytes();
        let mut first: Option<Vec<u8>> = None;
        let mut next: Option<Vec<u8>> = None;
        let problems = source.scan(&mut |r: &CatalogRecord| {
            if r.path == b"." || !contains_folded(&r.path, &needle) {
                return true;
            }
            if r.index > after {
                next = Some(r.path.clone());
                return false;
            }
            if first.is_none() {
                first = Some(r.path.clone());
            }
            true
        })?;
        self.problems.extend(problems);
        Ok(next.or(first))
    }

    /// Opens every directory above `path` (reading those not read yet in one pass) and
    /// returns its node.
    pub fn reveal(
        &mut self,
        source: &mut dyn CatalogSource,
        path: &[u8],
    ) -> anyhow::Result<Option<usize>> {
        let mut ancestors: Vec<Vec<u8>> = vec![Vec::new()];
        for (i, &b) in path.iter().enumerate() {
            if b == b'/' {
                ancestors.push(path[..i].to_vec());
            }
        }
        // Walk down through what is read; list the rest in one pass.
        let mut node = ROOT;
        let mut depth = 0;
        while depth + 1 < ancestors.len() {
            let Some(children) = &self.nodes[node].children else {
                break;
            };
            let want = &ancestors[depth + 1];
            match children.iter().find(|&&c| self.nodes[c].path == *want) {
                Some(&c) => node = c,
                None => return Ok(None),
            }
            depth += 1;
        }
        if self.nodes[node].children.is_none() {
            let missing = &ancestors[depth..];
            let (lists, problems) = list_children(source, missing)?;
            self.problems.extend(problems);
            for (k, list) in lists.into_iter().enumerate() {
                self.attach(node, list);
                if let Some(next) = missing.get(k + 1) {
                    let children = self.nodes[node].children.as_deref().unwrap_or_default();
                    match children.iter().find(|&&c| self.nodes[c].path == *next) {
                        Some(&c) => node = c,
                        None => break,
                    }
                }
            }
        }
        // Open the way down from the root.
        let mut at = ROOT;
        let mut found = None;
        for want in ancestors.iter().skip(1).map(Vec::as_slice).chain([path]) {
            self.nodes[at].expanded = true;
            let children = self.nodes[at].children.as_deref().unwrap_or_default();
            match children.iter().find(|&&c| self.nodes[c].path == want) {
                Some(&c) => {
                    at = c;
                    found = Some(c);
                }
                None => {
                    found = None;
                    break;
                }
            }
        }
        self.refresh();
        Ok(found.filter(|&f| self.nodes[f].path == path))
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use rescue_core::catalog::{CatalogKind, CatalogRecord};

    fn record(index: u64, path: &str, kind: CatalogKind, size: u64) -> CatalogRecord {
        CatalogRecord {
            index,
            path: path.as_bytes().to_vec(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            user: Some("root".into()),
            group: Some("root".into()),
            mtime: (1_763_700_000, 0),
            size,
            set: 1,
            slices: 1,
        }
    }

    /// A small system: /etc, /home/ann and /home/bob, /usr/bin, a symlink.
    pub(crate) fn records() -> Vec<CatalogRecord> {
        use CatalogKind::{Dir, File};
        let entries: Vec<(&str, CatalogKind, u64)> = vec![
            (".", Dir, 0),
            ("boot", Dir, 0),
            ("boot/vmlinuz-6.1.0-28-amd64", File, 8_123_456),
            ("boot/initrd.img-6.1.0-28-amd64", File, 31_457_280),
            ("etc", Dir, 0),
            ("etc/fstab", File, 612),
            ("etc/hostname", File, 5),
            ("etc/ssh", Dir, 0),
            ("etc/ssh/ssh_config", File, 1_650),
            ("etc/ssh/sshd_config", File, 3_223),
            ("home", Dir, 0),
            ("home/ann", Dir, 0),
            ("home/ann/notes.txt", File, 1_234),
            ("home/ann/photos", Dir, 0),
            ("home/ann/photos/beach.jpg", File, 2_621_440),
            ("home/ann/photos/snow.jpg", File, 3_145_728),
            ("home/bob", Dir, 0),
            ("home/bob/thesis.pdf", File, 5_242_880),
            ("usr", Dir, 0),
            ("usr/bin", Dir, 0),
            ("usr/bin/bash", File, 1_265_648),
            (
                "usr/bin/sh",
                CatalogKind::Symlink {
                    target: b"bash".to_vec(),
                },
                0,
            ),
            ("var", Dir, 0),
            ("var/log", Dir, 0),
            ("var/log/syslog", File, 524_288),
        ];
        entries
            .into_iter()
            .enumerate()
            .map(|(i, (p, k, s))| record(i as u64 + 1, p, k, s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::records;
    use super::*;
    use rescue_core::catalog::CatalogWriter;

    fn names(tree: &Tree) -> Vec<String> {
        tree.rows()
            .iter()
            .map(|&i| {
                let n = tree.node(i);
                format!("{}{}", "  ".repeat(n.depth), n.name())
            })
            .collect()
    }

    fn find_node(tree: &Tree, path: &str) -> usize {
        tree.rows()
            .iter()
            .copied()
            .find(|&i| tree.node(i).path == path.as_bytes())
            .unwrap_or_else(|| panic!("{path} not shown"))
    }

    #[test]
    fn loads_the_top_level_in_one_pass_with_totals() {
        let mut src = MemoryCatalog::new(records());
        let tree = Tree::load(&mut src);
        assert_eq!(src.scans, 1);
        assert_eq!(
            names(&tree),
            ["/", "  boot", "  etc", "  home", "  usr", "  var"]
        );
        let home = tree.node(find_node(&tree, "home"));
        assert_eq!(
            (home.files, home.bytes),
            (4, 1_234 + 2_621_440 + 3_145_728 + 5_242_880)
        );
        assert_eq!(tree.root().files, 13);
        assert!(tree.problems.is_empty());
    }

    #[test]
    fn expands_lazily_one_pass_per_directory_and_once() {
        let mut src = MemoryCatalog::new(records());
        let mut tree = Tree::load(&mut src);
        let home = find_node(&tree, "home");
        tree.expand(&mut src, home).unwrap();
        assert_eq!(src.scans, 2);
        let ann = find_node(&tree, "home/ann");
        tree.expand(&mut src, ann).unwrap();
        assert_eq!(src.scans, 3);
        assert_eq!(
            names(&tree)[3..8],
            [
                "  home",
                "    ann",
                "      notes.txt",
                "      photos",
                "    bob"
            ]
        );
        tree.collapse(home);
        tree.expand(&mut src, home).unwrap();
        assert_eq!(src.scans, 3, "children already read are kept");
        assert!(names(&tree).contains(&"      notes.txt".to_string()));
    }

    #[test]
    fn a_directory_selects_its_subtree_and_parents_follow() {
        let mut src = MemoryCatalog::new(records());
        let mut tree = Tree::load(&mut src);
        assert_eq!(tree.selection(), Some(vec![]), "everything at first");
        tree.toggle(ROOT);
        assert_eq!(tree.selection(), None);
        assert_eq!(tree.selected_totals(), (0, 0));

        let home = find_node(&tree, "home");
        tree.toggle(home);
        assert_eq!(tree.root().sel, Sel::Part);
        assert_eq!(tree.selection(), Some(vec![b"home".to_vec()]));
        assert_eq!(tree.selected_totals().0, 4);

        // Children read later take the parent's state; deselecting one splits the parent.
        tree.expand(&mut src, home).unwrap();
        let bob = find_node(&tree, "home/bob");
        assert_eq!(tree.node(bob).sel, Sel::All);
        tree.toggle(bob);
        assert_eq!(tree.node(home).sel, Sel::Part);
        assert_eq!(tree.selection(), Some(vec![b"home/ann".to_vec()]));
        assert_eq!(tree.selected_totals(), (3, 1_234 + 2_621_440 + 3_145_728));
        tree.toggle(bob);
        assert_eq!(tree.node(home).sel, Sel::All);
        assert_eq!(tree.selection(), Some(vec![b"home".to_vec()]));
    }

    #[test]
    fn search_finds_the_next_match_and_wraps() {
        let mut src = MemoryCatalog::new(records());
        let mut tree = Tree::load(&mut src);
        let first = tree.find(&mut src, "SSH", 0).unwrap().unwrap();
        assert_eq!(first, b"etc/ssh");
        let next = tree.find(&mut src, "ssh", 8).unwrap().unwrap();
        assert_eq!(next, b"etc/ssh/ssh_config");
        let wrapped = tree.find(&mut src, "ssh", 10).unwrap().unwrap();
        assert_eq!(wrapped, b"etc/ssh");
        assert_eq!(tree.find(&mut src, "nothing-like-it", 0).unwrap(), None);
    }

    #[test]
    fn reveal_reads_the_missing_levels_in_one_pass() {
        let mut src = MemoryCatalog::new(records());
        let mut tree = Tree::load(&mut src);
        let before = src.scans;
        let node = tree
            .reveal(&mut src, b"home/ann/photos/snow.jpg")
            .unwrap()
            .unwrap();
        assert_eq!(src.scans, before + 1);
        assert_eq!(tree.node(node).name(), "snow.jpg");
        assert!(tree.row_of(node).is_some());
        let ann = find_node(&tree, "home/ann");
        assert!(tree.node(ann).expanded);
        // Revealing something already read costs no pass.
        tree.reveal(&mut src, b"home/ann/notes.txt")
            .unwrap()
            .unwrap();
        assert_eq!(src.scans, before + 1);
    }

    #[test]
    fn implied_directories_are_listed() {
        let mut src = MemoryCatalog::new(
            records()
                .into_iter()
                .filter(|r| r.path != b"home" && r.path != b"home/bob")
                .collect(),
        );
        let mut tree = Tree::load(&mut src);
        let home = find_node(&tree, "home");
        assert!(tree.node(home).is_dir());
        tree.expand(&mut src, home).unwrap();
        let bob = find_node(&tree, "home/bob");
        assert_eq!(tree.node(bob).files, 1);
    }

    #[test]
    fn the_catalog_file_is_streamed_for_each_pass() {
        let mut w = CatalogWriter::new(Vec::new()).unwrap();
        for r in records() {
            w.write(&r).unwrap();
        }
        let bytes = w.finish().unwrap();
        let mut opened = 0;
        let mut src = CatalogFile::new("test", || {
            opened += 1;
            Ok(std::io::Cursor::new(bytes.clone()))
        });
        let mut tree = Tree::load(&mut src);
        let etc = find_node(&tree, "etc");
        tree.expand(&mut src, etc).unwrap();
        assert!(names(&tree).contains(&"    ssh".to_string()));
        drop(src);
        assert_eq!(opened, 2);
    }

    #[test]
    fn an_unreadable_catalog_leaves_an_empty_tree_and_says_why() {
        let mut src = CatalogFile::new("/rescue/catalog.zst", || {
            Ok::<_, std::io::Error>(std::io::Cursor::new(b"not zstd".to_vec()))
        });
        let tree = Tree::load(&mut src);
        assert_eq!(tree.rows().len(), 1);
        assert!(
            tree.problems
                .iter()
                .any(|p| p.contains("/rescue/catalog.zst")),
            "{:?}",
            tree.problems
        );
        assert_eq!(tree.selection(), Some(vec![]));
    }

    #[test]
    fn a_catalog_path_that_climbs_out_is_skipped_and_named() {
        let mut w = CatalogWriter::new(Vec::new()).unwrap();
        for r in records() {
            w.write(&r).unwrap();
        }
        let text = zstd::decode_all(&w.finish().unwrap()[..]).unwrap();
        let text = String::from_utf8(text)
            .unwrap()
            .replace("\"path\":\"etc/hostname\"", "\"path\":\"etc/../../shadow\"");
        let bytes = zstd::encode_all(text.as_bytes(), 3).unwrap();
        let mut src = CatalogFile::new("/rescue/catalog.zst", || {
            Ok::<_, std::io::Error>(std::io::Cursor::new(bytes.clone()))
        });
        let mut tree = Tree::load(&mut src);
        assert!(
            tree.problems.iter().any(|p| p.contains("\"..\"")),
            "{:?}",
            tree.problems
        );
        let etc = find_node(&tree, "etc");
        tree.expand(&mut src, etc).unwrap();
        let names = names(&tree);
        assert!(names.contains(&"    fstab".to_string()), "{names:?}");
        assert!(!names
            .iter()
            .any(|n| n.contains("..") || n.contains("shadow")));
        assert!(!names.iter().any(|n| n.contains("hostname")));
    }
}
