//! Why a command could not run at all (exit code 1, one line on stderr).

use nlb_target_sync::DoctorError;
use nlb_target_sync::SpecError;
use nlb_target_sync::{ApiFailure, OperateError};
use nlb_target_sync::{ConfigError, SetupError};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// Boxed: the engine's errors carry whole API failures.
    #[error(transparent)]
    Operate(Box<OperateError>),
    #[error("{0}")]
    BadSource(SpecError),
    #[error("cannot read the answer to the confirmation prompt: {0}; pass --yes to apply without asking")]
    Prompt(std::io::Error),
    #[error("apply cancelled: nothing was changed")]
    Cancelled,
    #[error("cannot write the output: {0}")]
    Write(std::io::Error),
    #[error("cannot write the JSON output: {0}; please report it with the command you ran")]
    Json(serde_json::Error),
    /// Boxed: it carries the engine's errors.
    #[error(transparent)]
    Doctor(Box<DoctorError>),
}

impl From<OperateError> for CliError {
    fn from(error: OperateError) -> Self {
        CliError::Operate(Box::new(error))
    }
}

impl CliError {
    /// The failed AWS call that made the command fail, if one did.
    pub fn api_failure_mut(&mut self) -> Option<&mut ApiFailure> {
        match self {
            CliError::Operate(error) => error.failure_mut(),
            CliError::Doctor(error) => error.failure_mut(),
            _ => None,
        }
    }
}
