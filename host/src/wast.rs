//! Spec test scripts (`.wast`) through the sandbox, beside a native
//! reference, counted directive by directive.
//!
//! A script is converted once into its list of directives and the modules
//! it defines (`json-from-wast`, the format Wasmtime's own harness reads).
//! Every module is compiled by Kiln, in the sandbox, and each artifact is
//! written as `NAME.cwasm`. The reference is the same script run by
//! Wasmtime in-process with the same settings, compiling each module itself
//! (`Module::new`).
//!
//! Wasmtime's directive runner (`wasmtime-wast`) carries out the
//! directives against Kiln's artifacts and for the reference (`module`, `register`,
//! `invoke`, `assert_return` with NaN patterns, `assert_trap`,
//! `assert_exhaustion`, `assert_exception`, `assert_unlinkable`,
//! `assert_uninstantiable`, threads). A module that failed to compile has no
//! artifact, so `assert_invalid` and `assert_malformed` are judged here
//! instead: the compile must have been refused, and the refusal must name
//! the expected problem.
//!
//! Directives are counted one by one ([`kiln_runner::wast`]). For a
//! reference run that fails somewhere, the counting re-runs use artifacts
//! from Wasmtime's own in-process compile of each module, the same compile
//! `Module::new` does.
//!
//! With an emulated [`Runner`], Kiln's artifacts are for another architecture and
//! their directives run in the cross-built runner under qemu-user; the
//! reference is then Wasmtime's own run of the script on this machine's
//! architecture, so a difference between the two is a difference between
//! the architectures' artifacts.

use crate::emulate::Runner;
use crate::{CompileRequest, Error, Options, Sandbox, load};
use json_from_wast::{Command, WasmFile, WasmFileType};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use wasmtime::Engine;

pub use kiln_runner::wast::MAX_FAILURES;

/// Where Kiln's artifacts run: in this process, or in an emulated runner
/// (with the options they were compiled with).
enum Execution<'a> {
    Local(&'a Engine),
    Emulated(&'a Runner, &'a Options),
}

/// The outcome of one script for one target.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WastReport {
    /// The script.
    pub file: String,
    /// The target triple.
    pub target: String,
    /// Directives that passed through Kiln.
    pub passed: usize,
    /// Directives that failed through Kiln.
    pub failed: usize,
    /// Directives not run, for the reasons in `skip_reasons`.
    pub skipped: usize,
    /// Directives that passed in the reference.
    pub reference_passed: usize,
    /// Directives that failed in the reference.
    pub reference_failed: usize,
    /// Lines of directives that pass in the reference but fail in Kiln:
    /// each one a Kiln bug.
    pub regressions: Vec<u32>,
    /// Why directives were skipped.
    pub skip_reasons: Vec<String>,
    /// The first few failures through Kiln, `line: message`.
    pub failures: Vec<String>,
}

/// Marks a compile failure that is not the compiler refusing the input
/// (a sandbox limit or failure): never a pass for `assert_invalid`.
const NOT_REFUSED: &str = "not refused by the compiler but failed";

/// One compiled module, or why it did not compile.
type Compiled = Result<Vec<u8>, String>;

/// Runs the script at `path` through Kiln and through the reference.
///
/// # Errors
///
/// [`Error::Read`] if the file cannot be read, else as [`run_script`].
pub fn run_file(
    sandbox: &Sandbox,
    path: &Path,
    options: &Options,
    emulator: Option<&Runner>,
) -> Result<WastReport, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    run_script(
        sandbox,
        &path.display().to_string(),
        &text,
        options,
        emulator,
    )
}

/// Hands `with` the script `text` (named `name`) as its directives and the
/// modules it defines, or says why it is not a valid script. (The parsed
/// script borrows the parser's buffer, so it is lent, not returned.)
pub fn parse_script<R>(
    name: &str,
    text: &str,
    with: impl FnOnce(json_from_wast::Wast<'_>) -> R,
) -> Result<R, String> {
    // Spec scripts test odd names on purpose (`names.wast`).
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buffer = wast::parser::ParseBuffer::new_with_lexer(lexer).map_err(|e| e.to_string())?;
    let ast = wast::parser::parse::<wast::Wast>(&buffer).map_err(|e| e.to_string())?;
    let script = json_from_wast::Opts::default()
        .convert(name, text, ast)
        .map_err(|e| format!("{e:#}"))?;
    Ok(with(script))
}

/// Runs the script `text`, named `file` (a path or file name), through Kiln
/// and through the reference; Kiln's artifacts in `emulator` when given.
///
/// # Errors
///
/// [`Error::Run`] if it is not a valid script or a work directory cannot
/// be made, [`Error::Emulate`] when the emulated runner fails to answer.
pub fn run_script(
    sandbox: &Sandbox,
    file: &str,
    text: &str,
    options: &Options,
    emulator: Option<&Runner>,
) -> Result<WastReport, Error> {
    let name = Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("script.wast")
        .to_string();
    parse_script(&name, text, |script| {
        run_parsed(sandbox, file, &name, text, &script, options, emulator)
    })
    .map_err(|e| Error::run(format!("{file}: {e}")))?
}

/// [`run_script`] once the script is parsed.
fn run_parsed(
    sandbox: &Sandbox,
    file: &str,
    name: &str,
    text: &str,
    script: &json_from_wast::Wast<'_>,
    options: &Options,
    emulator: Option<&Runner>,
) -> Result<WastReport, Error> {
    // The reference runs here: for an emulated target, on this machine's
    // own architecture with otherwise the same options.
    let reference_options = match emulator {
        Some(_) => crate::cross_check::reference_options(options)?,
        None => options.clone(),
    };
    // Spec scripts create shared memories (threads); no artifact records this.
    let engine = load::engine_configured(&reference_options, |config| {
        config.shared_memory(true);
    })?;
    let execution = match emulator {
        Some(emulator) => Execution::Emulated(emulator, options),
        None => Execution::Local(&engine),
    };
    let kiln: HashMap<String, Compiled> = compile_all(&script.wasms, |bytes| {
        sandbox
            .compile(&CompileRequest::new(bytes, options))
            .map(|compiled| compiled.artifact.bytes)
            .map_err(|e| match e {
                // A refusal by the compiler is what `assert_invalid` wants.
                Error::Compile(error) => error.to_string(),
                other => format!("{NOT_REFUSED}: {other}"),
            })
    });
    let reference = || -> HashMap<String, Compiled> {
        compile_all(&script.wasms, |bytes| {
            let compiled = if wasmparser::Parser::is_component(bytes) {
                engine.precompile_component(bytes)
            } else {
                engine.precompile_module(bytes)
            };
            compiled.map_err(|e| format!("{e:?}"))
        })
    };

    let mut report = WastReport {
        file: file.to_string(),
        target: options.triple.clone(),
        passed: 0,
        failed: 0,
        skipped: 0,
        reference_passed: 0,
        reference_failed: 0,
        regressions: Vec::new(),
        skip_reasons: Vec::new(),
        failures: Vec::new(),
    };
    let mut runnable = Vec::new();
    for (index, command) in script.commands.iter().enumerate() {
        match command {
            Command::AssertInvalidCustom { line, .. }
            | Command::AssertMalformedCustom { line, .. } => {
                report.skipped += 1;
                report
                    .skip_reasons
                    .push(format!("{line}: custom-section assertions are not implemented by Wasmtime's directive runner"));
            }
            _ => runnable.push(index),
        }
    }

    let kiln_failures = run_counting(&execution, name, &script.commands, &runnable, &kiln)?;
    // The reference is Wasmtime's runner on the script as it is, with plain
    // `Module::new`. Only where that fails somewhere are its directives
    // counted one by one, from its own in-process compiles.
    let reference_failures =
        if runnable.len() == script.commands.len() && plain_run(&engine, name, text) {
            HashMap::new()
        } else {
            let reference = reference();
            let local = Execution::Local(&engine);
            run_counting(&local, name, &script.commands, &runnable, &reference)?
        };
    report.failed = kiln_failures.len();
    report.passed = runnable.len() - report.failed;
    report.reference_failed = reference_failures.len();
    report.reference_passed = runnable.len() - report.reference_failed;
    report.regressions = kiln_failures
        .keys()
        .filter(|index| !reference_failures.contains_key(*index))
        .map(|index| script.commands[*index].line())
        .collect();
    report.regressions.sort_unstable();
    let mut failures: Vec<_> = kiln_failures.into_iter().collect();
    failures.sort_by_key(|(index, _)| *index);
    report.failures = failures
        .into_iter()
        .take(10)
        .map(|(index, message)| format!("{}: {message}", script.commands[index].line()))
        .collect();
    Ok(report)
}

/// Proposals a script needs beyond Kiln's defaults, from its path: the
/// spec suite keeps each proposal's tests in a directory named after it.
/// Both Kiln and the reference get the same list, as Wasmtime `-W`
/// options (`wide-arithmetic=y`).
pub fn proposal_flags(path: &Path) -> Vec<String> {
    const OFF_BY_DEFAULT: &[&str] = &["custom-page-sizes", "wide-arithmetic"];
    OFF_BY_DEFAULT
        .iter()
        .filter(|name| path.iter().any(|part| part == **name))
        .map(|name| format!("{name}=y"))
        .collect()
}

/// Compiles every module of a script with `compile`.
fn compile_all(
    wasms: &[(String, Vec<u8>)],
    compile: impl Fn(&[u8]) -> Compiled,
) -> HashMap<String, Compiled> {
    wasms
        .iter()
        .map(|(name, bytes)| (name.clone(), compile(bytes)))
        .collect()
}

/// Runs `runnable` (indices into `commands`) against `compiled` with
/// `execution`, and returns the failures by index with their messages.
fn run_counting(
    execution: &Execution<'_>,
    name: &str,
    commands: &[Command<'_>],
    runnable: &[usize],
    compiled: &HashMap<String, Compiled>,
) -> Result<HashMap<usize, String>, Error> {
    let mut failures = HashMap::new();
    // `assert_invalid`/`assert_malformed` are judged from the compile result.
    let mut remaining = Vec::new();
    for &index in runnable {
        match &commands[index] {
            Command::AssertInvalid { file, .. } | Command::AssertMalformed { file, .. } => {
                if let Err(message) = judge_refusal(file, compiled) {
                    failures.insert(index, message);
                }
            }
            _ => remaining.push(index),
        }
    }

    let dir = tempfile::tempdir().map_err(Error::run)?;
    let mut files: Vec<_> = compiled.iter().collect();
    files.sort_by_key(|(file, _)| (file.ends_with(".wat"), file.as_str()));
    for (file, result) in files {
        if let Ok(bytes) = result {
            let path = dir.path().join(Path::new(file).with_extension("cwasm"));
            // A text module and its binary form share a stem: the binary wins,
            // as in Wasmtime's harness.
            if file.ends_with(".wat") && path.exists() {
                continue;
            }
            std::fs::write(&path, bytes).map_err(Error::run)?;
        }
    }

    let directives = remaining
        .iter()
        .map(|&i| serde_json::to_value(&commands[i]).map_err(Error::run))
        .collect::<Result<Vec<_>, _>>()?;
    let failed = match execution {
        Execution::Local(engine) => {
            kiln_runner::wast::run_directives(engine, dir.path(), name, &directives)?
        }
        Execution::Emulated(runner, options) => {
            runner.run_directives(dir.path(), name, options, &directives)?
        }
    };
    for (position, message) in failed {
        failures.insert(remaining[position], message);
    }
    Ok(failures)
}

/// Runs the whole script with Wasmtime's runner compiling every module
/// itself (`Module::new`); `true` if every directive passed.
fn plain_run(engine: &Engine, name: &str, text: &str) -> bool {
    let mut context = kiln_runner::wast::new_context(engine);
    context.ignore_error_messages(true);
    context.run_wast(name, text.as_bytes()).is_ok()
}

/// `assert_invalid`/`assert_malformed`: the module must have been refused
/// by the compiler (a typed rejection, not a crash or a limit).
///
/// The expected text is not compared: the spec's texts are the reference
/// interpreter's wording ("unexpected token"), which neither Wasmtime nor
/// Kiln reproduces, so comparing them would fail both sides alike.
fn judge_refusal(file: &WasmFile<'_>, compiled: &HashMap<String, Compiled>) -> Result<(), String> {
    let name = match (file.module_type, &file.binary_filename) {
        (WasmFileType::Text, Some(binary)) if compiled.contains_key(binary.as_ref()) => {
            binary.as_ref()
        }
        _ => file.filename.as_ref(),
    };
    match compiled.get(name) {
        Some(Ok(_)) => Err("expected the module to be refused, but it compiled".to_string()),
        Some(Err(message)) if message.starts_with(NOT_REFUSED) => Err(message.clone()),
        Some(Err(_)) => Ok(()),
        None => Err(format!("module {name} missing from the script")),
    }
}
