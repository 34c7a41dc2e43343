//! `kiln-runner REQUEST RESPONSE`: carries out one request written by the
//! host (run an artifact, or run spec-test directives against artifacts)
//! and writes the response. The guest's own output goes to this program's
//! stdout and stderr. Exit status 0 means a response was written, whatever
//! it says; 2 means the request could not be served at all.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [request, response] = args.as_slice() else {
        eprintln!("usage: kiln-runner REQUEST RESPONSE");
        return ExitCode::from(2);
    };
    match kiln_runner::protocol::serve(request.as_ref(), response.as_ref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kiln-runner: {error}");
            ExitCode::from(2)
        }
    }
}
