//! Where files go and how they appear: names that sort in commit order,
//! temporary names readers' globs skip, fsync before and after the rename,
//! and the deletion of files no committed batch owns.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use tracing::warn;

use crate::error::SinkError;

/// Files being written start with this; `*.parquet` and the like skip them.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// Digits of the sequence number that starts every file name.
const SEQ_DIGITS: usize = 12;

/// Checks that `name` (a tenant, table or stream) is usable as one path
/// component.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), SinkError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.starts_with('.') {
        "it starts with a dot"
    } else if name.contains(['/', '\\', '\0']) {
        "it contains a slash, a backslash or a NUL"
    } else if name.len() > 200 {
        "it is longer than 200 bytes"
    } else {
        return Ok(());
    };
    Err(SinkError::Name { what, name: name.to_owned(), reason })
}

/// `000000000042-orders.parquet`: the batch's sequence number and stream.
pub(crate) fn file_name(seq: u64, stream: &str, ext: &str) -> String {
    format!("{seq:0width$}-{stream}.{ext}", width = SEQ_DIGITS)
}

/// The sequence number a data file's name starts with.
pub(crate) fn seq_of(name: &str) -> Option<u64> {
    let digits = name.get(..SEQ_DIGITS)?;
    if name.as_bytes().get(SEQ_DIGITS) != Some(&b'-') || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn create_dir(dir: &Path) -> Result<(), SinkError> {
    fs::create_dir_all(dir).map_err(|e| SinkError::io("creating directory", dir, e))
}

/// Makes `dir`'s entries (a rename, a new file) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SinkError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SinkError::io("syncing directory", dir, e))
}

/// A file written under its temporary name, to be renamed into place.
pub(crate) struct Pending {
    pub tmp: PathBuf,
    pub path: PathBuf,
}

/// Renames every pending file into place, then syncs their directories.
pub(crate) fn publish(files: &[Pending]) -> Result<(), SinkError> {
    for f in files {
        fs::rename(&f.tmp, &f.path)
            .map_err(|e| SinkError::io("renaming into place", &f.path, e))?;
    }
    let mut dirs: Vec<&Path> = files.iter().filter_map(|f| f.path.parent()).collect();
    dirs.dedup();
    for d in dirs {
        sync_dir(d)?;
    }
    Ok(())
}

/// Best effort after a failed commit: removes what it wrote, under either
/// name, so no file of an uncommitted batch stays visible.
pub(crate) fn discard(files: &[Pending]) {
    for f in files {
        for p in [&f.tmp, &f.path] {
            if let Err(e) = fs::remove_file(p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                warn!(path = %p.display(), %e, "cannot remove a file of a failed commit");
            }
        }
    }
}

/// Deletes, in every table directory of `tenant_dir`, temporary files and
/// files whose sequence is beyond `committed` (written by a batch whose
/// index transaction never committed). Returns how many it deleted.
pub(crate) fn remove_orphans(tenant_dir: &Path, committed: u64) -> Result<usize, SinkError> {
    let mut removed = 0;
    let entries = fs::read_dir(tenant_dir).map_err(|e| SinkError::io("listing", tenant_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| SinkError::io("listing", tenant_dir, e))?;
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        let mut touched = false;
        for file in fs::read_dir(&dir).map_err(|e| SinkError::io("listing", &dir, e))? {
            let file = file.map_err(|e| SinkError::io("listing", &dir, e))?;
            let name = file.file_name();
            let Some(name) = name.to_str() else { continue };
            let orphan =
                name.starts_with(TMP_PREFIX) || seq_of(name).is_some_and(|s| s > committed);
            if orphan {
                let path = file.path();
                warn!(path = %path.display(), committed, "deleting a file of an uncommitted batch");
                fs::remove_file(&path).map_err(|e| SinkError::io("deleting", &path, e))?;
                removed += 1;
                touched = true;
            }
        }
        if touched {
            sync_dir(&dir)?;
        }
    }
    Ok(removed)
}

/// The committed data files of a table directory, in commit order.
pub(crate) fn committed_files(
    table_dir: &Path,
    ext: &str,
    committed: u64,
) -> Result<Vec<PathBuf>, SinkError> {
    let entries = match fs::read_dir(table_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SinkError::io("listing", table_dir, e)),
    };
    let suffix = format!(".{ext}");
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| SinkError::io("listing", table_dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(&suffix) && seq_of(name).is_some_and(|s| s <= committed) {
            files.push((name.to_owned(), entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_commit_order_and_parse_back() {
        let a = file_name(9, "orders", "parquet");
        let b = file_name(10, "orders", "parquet");
        assert_eq!(a, "000000000009-orders.parquet");
        assert!(a < b);
        assert_eq!(seq_of(&b), Some(10));
        assert_eq!(seq_of(".tmp-000000000010-orders.parquet"), None);
        assert_eq!(seq_of("notes.txt"), None);
    }

    #[test]
    fn unusable_names_are_refused_with_the_reason() {
        assert!(check_name("tenant", "acme-eu").is_ok());
        let e = check_name("tenant", "../etc").expect_err("dot");
        assert_eq!(
            e.to_string(),
            r#"tenant "../etc" cannot name a file or directory: it starts with a dot"#
        );
        assert!(check_name("table", "a/b").is_err());
        assert!(check_name("stream", "").is_err());
    }
}
