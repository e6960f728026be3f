//! What the restore does to each partition (or whole-disk filesystem) of the layout, as
//! chosen in the UI; the plan ([`super::plan`]) turns these into steps.

/// What happens to a partition (or a whole-disk filesystem) of the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionAction {
    /// Create the partition and make its filesystem.
    #[default]
    CreateAndFormat,
    /// The partition is there: make the filesystem again.
    FormatOnly,
    /// Leave partition and filesystem as they are; restore files into it.
    KeepAsIs,
    /// Deleted from the plan: not created, formatted, mounted or restored into. Its table
    /// entry stays, so what it holds survives.
    Untouched,
}

impl PartitionAction {
    /// The actions a user cycles through (Untouched comes from deleting).
    pub const CYCLE: [PartitionAction; 3] = [
        PartitionAction::CreateAndFormat,
        PartitionAction::FormatOnly,
        PartitionAction::KeepAsIs,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PartitionAction::CreateAndFormat => "create+format",
            PartitionAction::FormatOnly => "format only",
            PartitionAction::KeepAsIs => "keep as is",
            PartitionAction::Untouched => "untouched",
        }
    }

    /// Its filesystem is made (again).
    pub fn formats(self) -> bool {
        matches!(
            self,
            PartitionAction::CreateAndFormat | PartitionAction::FormatOnly
        )
    }

    /// What it holds is still there afterwards.
    pub fn keeps(self) -> bool {
        matches!(self, PartitionAction::KeepAsIs | PartitionAction::Untouched)
    }
}
