use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = usher::cli::Cli::parse();
    match usher::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usher: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
