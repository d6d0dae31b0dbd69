//! The exit codes of `simpul` (README, "Exit codes"), in one place. Subcommands return
//! `anyhow::Result<()>`; an error that is not a plain failure (1) says which code it ends with
//! ([`Exit::error`], [`Exit::msg`], [`OrExit::or_exit`]), and `main` asks [`Exit::of`]. The codes
//! follow BSD `sysexits.h` where one fits.

use std::fmt;
use std::process::ExitCode;

use simpul_app::demo::SeedError;
use simpul_app::import::ImportError;
use simpul_app::AppError;
use simpul_projections::exports::ExportError;
use simpul_projections::ProjectionError;
use simpul_store::StoreError;

/// How `simpul` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: done; also `--help` and `--version`.
    Success,
    /// 1: the operation failed (the store refused, a check found a difference, a file could not
    /// be written, …). Any error not classified otherwise.
    Failed,
    /// 2: what the command names does not exist: a region code, a KIM, a person, a token, the
    /// file to import.
    NotFound,
    /// 64 (`EX_USAGE`): the command line is wrong — an unknown subcommand or flag, a missing
    /// argument, a value that does not parse or does not fit (clap's own errors included), a
    /// bad `DATABASE_URL` or configuration file.
    Usage,
    /// 65 (`EX_DATAERR`): the input file is wrong — an import with invalid rows, or a file that
    /// is not a registry at all (not UTF-8, empty, not CSV, too many rows). Nothing was written.
    DataError,
    /// 69 (`EX_UNAVAILABLE`): the database cannot be reached.
    Unavailable,
    /// 78 (`EX_CONFIG`): the master key is not the one this database's personal data is sealed
    /// with, or is missing for a database that has some.
    Config,
}

impl Exit {
    /// The process exit status.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::NotFound => 2,
            Exit::Usage => 64,
            Exit::DataError => 65,
            Exit::Unavailable => 69,
            Exit::Config => 78,
        }
    }

    /// `error`, ending `simpul` with this code; its message is unchanged.
    pub fn error(self, error: impl Into<anyhow::Error>) -> anyhow::Error {
        anyhow::Error::new(Classified {
            exit: self,
            error: error.into(),
        })
    }

    /// An error with this message, ending `simpul` with this code.
    pub fn msg(self, message: impl fmt::Display) -> anyhow::Error {
        self.error(anyhow::anyhow!("{message}"))
    }

    /// The code an error ends `simpul` with: the outermost classification in its chain; else 69
    /// if the store could not be reached, 78 if the master key is not this database's; else 1.
    pub fn of(error: &anyhow::Error) -> Exit {
        if let Some(classified) = error
            .chain()
            .find_map(|cause| cause.downcast_ref::<Classified>())
        {
            return classified.exit;
        }
        for store in error.chain().filter_map(store_error) {
            match store {
                StoreError::Unavailable(_) => return Exit::Unavailable,
                StoreError::MasterKeyMismatch { .. } | StoreError::MasterKeyMissing { .. } => {
                    return Exit::Config
                }
                _ => {}
            }
        }
        Exit::Failed
    }

    /// The code of a command line clap refused: 0 for `--help` and `--version` (which clap
    /// reports as errors), 64 for every other (clap's own default is 2).
    pub fn of_clap(error: &clap::Error) -> Exit {
        if error.use_stderr() {
            Exit::Usage
        } else {
            Exit::Success
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// Classifies the error of a result: `Uuid::parse_str(id).or_exit(Exit::Usage)?`.
pub trait OrExit<T> {
    /// The error, if any, ending `simpul` with `exit`.
    fn or_exit(self, exit: Exit) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> OrExit<T> for Result<T, E> {
    fn or_exit(self, exit: Exit) -> anyhow::Result<T> {
        self.map_err(|error| exit.error(error))
    }
}

/// An error and its exit code. It shows as the error it wraps, whole chain included, and has no
/// source of its own: its code is decided.
#[derive(Debug)]
struct Classified {
    exit: Exit,
    error: anyhow::Error,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Classified {}

/// The store error behind a cause: the crates wrap it transparently (so it is not a link of the
/// chain itself).
fn store_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a StoreError> {
    fn of_app(error: &AppError) -> Option<&StoreError> {
        match error {
            AppError::Store(store) => Some(store),
            _ => None,
        }
    }
    fn of_projection(error: &ProjectionError) -> Option<&StoreError> {
        match error {
            ProjectionError::Store(store) => Some(store),
            _ => None,
        }
    }
    if let Some(store) = cause.downcast_ref::<StoreError>() {
        return Some(store);
    }
    if let Some(app) = cause.downcast_ref::<AppError>() {
        return of_app(app);
    }
    if let Some(SeedError::Write(app)) = cause.downcast_ref::<SeedError>() {
        return of_app(app);
    }
    if let Some(ImportError::Store(store)) = cause.downcast_ref::<ImportError>() {
        return Some(store);
    }
    if let Some(projection) = cause.downcast_ref::<ProjectionError>() {
        return of_projection(projection);
    }
    match cause.downcast_ref::<ExportError>() {
        Some(ExportError::Store(store)) => Some(store),
        Some(ExportError::Projection(projection)) => of_projection(projection),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_classified_error_keeps_its_message_and_code_under_context() {
        let inner = anyhow::anyhow!("cause").context("what failed");
        let error = Exit::NotFound.error(inner).context("outer");
        assert_eq!(format!("{error:#}"), "outer: what failed: cause");
        assert_eq!(Exit::of(&error), Exit::NotFound);
        let usage: anyhow::Result<()> = Err(std::fmt::Error).or_exit(Exit::Usage);
        assert_eq!(Exit::of(&usage.unwrap_err()), Exit::Usage);
    }

    #[test]
    fn an_unreachable_store_is_69_however_wrapped_and_anything_else_1() {
        let unavailable = || StoreError::Unavailable("refused".to_owned());
        for error in [
            anyhow::Error::from(unavailable()).context("connecting"),
            anyhow::Error::from(AppError::Store(unavailable())),
            anyhow::Error::from(SeedError::Write(AppError::Store(unavailable()))),
            anyhow::Error::from(ImportError::Store(unavailable())).context("importing"),
            anyhow::Error::from(ProjectionError::Store(unavailable())),
            anyhow::Error::from(ExportError::Projection(ProjectionError::Store(
                unavailable(),
            ))),
        ] {
            assert_eq!(Exit::of(&error), Exit::Unavailable, "{error:#}");
        }
        let corrupt = anyhow::Error::from(StoreError::Corrupt("x".to_owned()));
        assert_eq!(Exit::of(&corrupt), Exit::Failed);
        assert_eq!(Exit::of(&anyhow::anyhow!("anything")), Exit::Failed);
        // A classification wins over what it wraps.
        let classified = Exit::Usage.error(unavailable());
        assert_eq!(Exit::of(&classified), Exit::Usage);
    }

    #[test]
    fn clap_usage_errors_are_64_and_help_and_version_0() {
        use clap::Parser as _;
        for (args, exit) in [
            (vec!["simpul", "--help"], Exit::Success),
            (vec!["simpul", "--version"], Exit::Success),
            (vec!["simpul", "regions", "--help"], Exit::Success),
            (vec!["simpul"], Exit::Usage),
            (vec!["simpul", "frobnicate"], Exit::Usage),
            (vec!["simpul", "regions", "show"], Exit::Usage),
            (
                vec!["simpul", "events", "tail", "--after", "x"],
                Exit::Usage,
            ),
        ] {
            let error = super::super::Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(Exit::of_clap(&error), exit, "{args:?}");
        }
    }
}
