//! Parsing the process's arguments, noting where the environment came from.

use super::Cli;

impl Cli {
    /// Parses the process's arguments, noting whether the environment was
    /// given (see [`Cli::environment_given`]).
    pub fn try_parse_args() -> Result<Cli, clap::Error> {
        Self::try_parse_from_args(std::env::args_os())
    }

    /// [`Cli::try_parse_args`] over `args`.
    pub fn try_parse_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        cli.environment_given = matches!(
            matches.value_source("environment"),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        Ok(cli)
    }
}
