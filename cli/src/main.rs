//! The `corral` command. All of it lives in the library, so the Python and Node packages can
//! ship the same CLI by calling [`corral_cli::main_with_args`].

fn main() {
    let code = corral_cli::main_with_args(std::env::args_os().collect());
    std::process::exit(code);
}
