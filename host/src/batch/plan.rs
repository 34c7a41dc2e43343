//! Which files a batch compiles, and where each one's artifact goes.
//!
//! A file named on the command line is compiled whatever its name, and its
//! artifact is `OUT/<its stem>.cwasm`. A directory is walked recursively
//! for `.wasm` and `.wat` files, in name order, and each one's artifact
//! keeps its place below the directory (`corpus/bz2/benchmark.wasm` →
//! `OUT/bz2/benchmark.cwasm`), so that the many `benchmark.wasm` of a
//! corpus do not meet. Symbolic links to files are followed; links to
//! directories are not (a link back up the tree would never end).
//!
//! Two different inputs that would write the same artifact are refused
//! before anything compiles, naming both: which of them should win is the
//! user's call, and silently renaming one would leave an artifact where no
//! one looks for it. The same file reached twice for the same artifact (a
//! file and the directory that holds it) is compiled once.
//!
//! A path that does not exist is planned as a file: reading it fails when
//! its turn comes, and that is reported as its failure like any other, so
//! that the rest go on.

use crate::Error;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The extension every artifact gets.
const ARTIFACT_EXTENSION: &str = "cwasm";

/// One file to compile and where its artifact goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInput {
    /// The file, as named, or as found below the directory named.
    pub source: PathBuf,
    /// Where its artifact goes (its statement goes beside it).
    pub output: PathBuf,
    /// Its size in bytes when planned (0 where it could not be read): the
    /// scheduler's measure of its work.
    pub size: u64,
}

/// What a batch compiles, from the paths given.
#[derive(Debug, Default)]
pub struct Plan {
    /// The files to compile, in the order found.
    pub inputs: Vec<BatchInput>,
    /// Directories named that hold no `.wasm` or `.wat` file: worth
    /// saying, but no failure.
    pub empty_dirs: Vec<PathBuf>,
    /// Directories below a named one that could not be read: each a
    /// failed input, reported as such.
    pub unreadable: Vec<(PathBuf, Error)>,
}

/// Why a batch cannot start: a usage error (exit 2), nothing compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// `-` (standard input) among the inputs: it has no name to write an
    /// artifact under, and can be read only once.
    Stdin,
    /// Two different inputs would write the same artifact.
    Collision {
        /// The artifact both would write.
        output: PathBuf,
        /// The input found first.
        first: PathBuf,
        /// The other one.
        second: PathBuf,
    },
    /// Nothing to compile: every path named is a directory with no
    /// `.wasm` or `.wat` file in it.
    NoInputs {
        /// The directories named.
        dirs: Vec<PathBuf>,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdin => f.write_str(
                "standard input (`-`) cannot be one of several inputs; compile it alone with -o",
            ),
            Self::Collision {
                output,
                first,
                second,
            } => write!(
                f,
                "{} and {} would both be written to {}; name their directory instead \
                 (its layout is kept below --out-dir), or compile them apart",
                first.display(),
                second.display(),
                output.display()
            ),
            Self::NoInputs { dirs } => {
                f.write_str("nothing to compile: no .wasm or .wat file in ")?;
                let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                f.write_str(&names.join(", "))
            }
        }
    }
}

impl std::error::Error for PlanError {}

impl From<PlanError> for Error {
    fn from(error: PlanError) -> Self {
        Self::Usage {
            message: error.to_string(),
        }
    }
}

/// The batch that compiles `paths` (files and directories) into
/// `out_dir`.
///
/// # Errors
///
/// As [`PlanError`] says; a directory that cannot be read is no error
/// here but a failed input ([`Plan::unreadable`]).
pub fn plan(paths: &[PathBuf], out_dir: &Path) -> Result<Plan, PlanError> {
    let mut plan = Plan::default();
    // Artifact → (the canonical source that writes it, the source as named).
    let mut writers: HashMap<PathBuf, (PathBuf, PathBuf)> = HashMap::new();
    let mut named_dirs = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            return Err(PlanError::Stdin);
        }
        let found = if path.is_dir() {
            named_dirs.push(path.clone());
            let mut files = Vec::new();
            walk(path, &mut files, &mut plan.unreadable);
            if files.is_empty() {
                plan.empty_dirs.push(path.clone());
            }
            files
                .into_iter()
                .map(|file| {
                    let relative = file.strip_prefix(path).unwrap_or(&file).to_path_buf();
                    let output = out_dir.join(relative).with_extension(ARTIFACT_EXTENSION);
                    (file, output)
                })
                .collect()
        } else {
            vec![(path.clone(), out_dir.join(artifact_name(path)))]
        };
        for (source, output) in found {
            let canonical = std::fs::canonicalize(&source).unwrap_or_else(|_| source.clone());
            match writers.get(&output) {
                Some((same, _)) if *same == canonical => continue,
                Some((_, first)) => {
                    return Err(PlanError::Collision {
                        output,
                        first: first.clone(),
                        second: source,
                    });
                }
                None => {}
            }
            writers.insert(output.clone(), (canonical, source.clone()));
            let size = std::fs::metadata(&source).map_or(0, |m| m.len());
            plan.inputs.push(BatchInput {
                source,
                output,
                size,
            });
        }
    }
    if plan.inputs.is_empty() && plan.unreadable.is_empty() {
        return Err(PlanError::NoInputs { dirs: named_dirs });
    }
    Ok(plan)
}

/// `dir/app.wasm` → `app.cwasm`.
fn artifact_name(file: &Path) -> PathBuf {
    let stem = file.file_stem().unwrap_or(file.as_os_str());
    PathBuf::from(stem).with_extension(ARTIFACT_EXTENSION)
}

/// Whether a file found in a directory is an input.
fn is_input(file: &Path) -> bool {
    file.extension()
        .is_some_and(|ext| ext == "wasm" || ext == "wat")
}

/// Appends the inputs below `dir` to `files`, in name order; directories
/// that cannot be read go to `unreadable`.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, unreadable: &mut Vec<(PathBuf, Error)>) {
    let entries = std::fs::read_dir(dir).and_then(|entries| {
        let mut entries = entries.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        Ok(entries)
    });
    let entries = match entries {
        Ok(entries) => entries,
        Err(source) => {
            let path = dir.to_path_buf();
            unreadable.push((path.clone(), Error::Read { path, source }));
            return;
        }
    };
    for entry in entries {
        let path = entry.path();
        // The entry itself: a link to a directory is not descended into.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, files, unreadable);
        } else if is_input(&path) && (kind.is_file() || path.is_file()) {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"(module)").unwrap();
    }

    #[test]
    fn files_go_to_their_stem_and_directories_keep_their_layout() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus");
        touch(&corpus.join("bz2/benchmark.wasm"));
        touch(&corpus.join("noop/benchmark.wasm"));
        touch(&corpus.join("noop/notes.txt"));
        touch(&corpus.join("tiny.wat"));
        let alone = dir.path().join("elsewhere/app.wasm");
        touch(&alone);
        let out = Path::new("out");
        let plan = plan(&[corpus.clone(), alone.clone()], out).unwrap();
        let pairs: Vec<_> = plan
            .inputs
            .iter()
            .map(|input| (input.source.clone(), input.output.clone()))
            .collect();
        assert_eq!(
            pairs,
            [
                (
                    corpus.join("bz2/benchmark.wasm"),
                    out.join("bz2/benchmark.cwasm")
                ),
                (
                    corpus.join("noop/benchmark.wasm"),
                    out.join("noop/benchmark.cwasm")
                ),
                (corpus.join("tiny.wat"), out.join("tiny.cwasm")),
                (alone, out.join("app.cwasm")),
            ]
        );
        assert!(plan.inputs.iter().all(|input| input.size == 8));
        assert!(plan.empty_dirs.is_empty() && plan.unreadable.is_empty());
    }

    #[test]
    fn two_inputs_for_one_artifact_are_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a/benchmark.wasm");
        let b = dir.path().join("b/benchmark.wasm");
        touch(&a);
        touch(&b);
        let error = plan(&[a.clone(), b.clone()], Path::new("out")).unwrap_err();
        assert_eq!(
            error,
            PlanError::Collision {
                output: PathBuf::from("out/benchmark.cwasm"),
                first: a,
                second: b,
            }
        );
        // `.wasm` and `.wat` of one name, in one directory, too.
        let c = dir.path().join("c");
        touch(&c.join("app.wasm"));
        touch(&c.join("app.wat"));
        assert!(matches!(
            plan(&[c], Path::new("out")),
            Err(PlanError::Collision { .. })
        ));
    }

    #[test]
    fn one_file_reached_twice_is_compiled_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.wasm");
        touch(&file);
        let paths = [dir.path().to_path_buf(), file.clone(), file];
        let plan = plan(&paths, Path::new("out")).unwrap();
        assert_eq!(plan.inputs.len(), 1);
    }

    #[test]
    fn empty_directories_are_noted_and_alone_are_nothing_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let missing = dir.path().join("missing.wasm");
        // A missing file is planned; reading it fails in its turn.
        let planned = plan(&[empty.clone(), missing.clone()], Path::new("out")).unwrap();
        assert_eq!(planned.empty_dirs, std::slice::from_ref(&empty));
        assert_eq!(planned.inputs[0].source, missing);
        assert_eq!(planned.inputs[0].size, 0);
        assert_eq!(
            plan(std::slice::from_ref(&empty), Path::new("out")).unwrap_err(),
            PlanError::NoInputs { dirs: vec![empty] }
        );
    }

    #[test]
    fn standard_input_is_refused() {
        let paths = [PathBuf::from("a.wasm"), PathBuf::from("-")];
        assert_eq!(
            plan(&paths, Path::new("out")).unwrap_err(),
            PlanError::Stdin
        );
    }

    #[test]
    fn links_to_files_are_followed_and_links_to_directories_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.wasm");
        touch(&real);
        let tree = dir.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        std::os::unix::fs::symlink(&real, tree.join("linked.wasm")).unwrap();
        // A loop: the tree inside itself.
        std::os::unix::fs::symlink(&tree, tree.join("again")).unwrap();
        let plan = plan(std::slice::from_ref(&tree), Path::new("out")).unwrap();
        assert_eq!(plan.inputs.len(), 1);
        assert_eq!(plan.inputs[0].source, tree.join("linked.wasm"));
    }
}
