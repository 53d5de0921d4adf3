//! The saved session: `$XDG_CONFIG_HOME/keyward/credentials.json` (or
//! `~/.config/keyward/credentials.json`), readable by its owner only.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::CliError;

/// What `keyward login` saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The server's URL.
    pub url: String,
    /// The session token (a bearer token: whoever reads it is logged in).
    pub session_token: String,
    /// The organization's slug.
    pub organization: String,
    /// The member's username.
    pub username: String,
}

/// Where the credentials live, from `XDG_CONFIG_HOME` or `HOME`.
pub fn default_path() -> Result<PathBuf, CliError> {
    path_in(std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME"))
}

/// The credentials file under `xdg_config_home` (when absolute, as the XDG spec requires) or
/// `home/.config`.
fn path_in(xdg_config_home: Option<OsString>, home: Option<OsString>) -> Result<PathBuf, CliError> {
    let config_home = xdg_config_home
        .filter(|dir| Path::new(dir).is_absolute())
        .map(PathBuf::from)
        .or_else(|| home.filter(|home| !home.is_empty()).map(|home| Path::new(&home).join(".config")))
        .ok_or_else(|| {
            CliError::Io("neither XDG_CONFIG_HOME nor HOME is set: cannot find the credentials file".into())
        })?;
    Ok(config_home.join("keyward").join("credentials.json"))
}

fn io(path: &Path, what: &str, err: std::io::Error) -> CliError {
    CliError::Io(format!("{what} {}: {err}", path.display()))
}

impl Credentials {
    /// Reads the saved credentials; `None` when there are none.
    pub fn load(path: &Path) -> Result<Option<Credentials>, CliError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io(path, "cannot read", err)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            CliError::Io(format!(
                "{} is not a Keyward credentials file ({e}); run `keyward login` again",
                path.display()
            ))
        })
    }

    /// Writes the credentials atomically (a new file renamed over the old one), mode 0600 in a
    /// directory of mode 0700, so no other user can read the token at any moment.
    pub fn save(&self, path: &Path) -> Result<(), CliError> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(|e| io(dir, "cannot create", e))?;
        let temp = dir.join(format!(".credentials.{}.tmp", std::process::id()));
        let written = write_private(&temp, &serde_json::to_vec_pretty(self).expect("serializable"));
        if let Err(err) = written.and_then(|()| fs::rename(&temp, path)) {
            let _ = fs::remove_file(&temp);
            return Err(io(path, "cannot write", err));
        }
        Ok(())
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        // Our own directory (`keyward/`) is tightened if it was created loosely before.
        if dir.file_name().is_some_and(|name| name == "keyward") {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(token: &str) -> Credentials {
        Credentials {
            url: "http://localhost:8080/".into(),
            session_token: token.into(),
            organization: "default".into(),
            username: "admin".into(),
        }
    }

    #[test]
    fn saved_credentials_round_trip_and_replace_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config").join("keyward").join("credentials.json");
        assert_eq!(Credentials::load(&path).unwrap(), None);
        creds("one").save(&path).unwrap();
        creds("two").save(&path).unwrap();
        assert_eq!(Credentials::load(&path).unwrap(), Some(creds("two")));
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
        fs::write(&path, "{").unwrap();
        assert!(matches!(Credentials::load(&path), Err(CliError::Io(_))));
    }

    #[test]
    fn the_file_lives_under_the_xdg_config_home_or_home() {
        let path = |xdg: Option<&str>, home: Option<&str>| path_in(xdg.map(Into::into), home.map(Into::into));
        assert_eq!(path(Some("/x"), Some("/h")).unwrap(), Path::new("/x/keyward/credentials.json"));
        assert_eq!(path(Some("relative"), Some("/h")).unwrap(), Path::new("/h/.config/keyward/credentials.json"));
        assert_eq!(path(None, Some("/h")).unwrap(), Path::new("/h/.config/keyward/credentials.json"));
        assert!(path(None, None).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_can_read_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keyward = dir.path().join("keyward");
        fs::create_dir(&keyward).unwrap();
        fs::set_permissions(&keyward, fs::Permissions::from_mode(0o755)).unwrap();
        let path = keyward.join("credentials.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        creds("t").save(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&keyward).unwrap().permissions().mode() & 0o777, 0o700);
        let fresh = dir.path().join("new").join("keyward").join("credentials.json");
        creds("t").save(&fresh).unwrap();
        assert_eq!(fs::metadata(fresh.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
