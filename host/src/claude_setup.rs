//! Claude Code's `settings.json` on disk: where it lives and how to replace it without ever
//! leaving a half-written file. What goes into it is decided by
//! `proxy_core::claude_settings` (`apply_proxy` / `apply_direct`); this module only does IO.
//!
//! A write copies the previous file to `settings.json.bak-<unix secs>` first, then writes a
//! temporary file in the same directory, fsyncs it, renames it over the old one and fsyncs the
//! directory. The file keeps its permissions (a new one gets 0600 on unix); a symlinked
//! `settings.json` (dotfile managers) stays a link and its target is replaced.

use proxy_core::claude_settings::Edit;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`.
pub fn claude_settings_path() -> PathBuf {
    settings_path_from(
        std::env::var_os("CLAUDE_CONFIG_DIR"),
        std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")),
    )
}

fn settings_path_from(config_dir: Option<OsString>, home: Option<OsString>) -> PathBuf {
    match config_dir.filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("settings.json"),
        None => home
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".claude")
            .join("settings.json"),
    }
}

/// Replace the file at `path` with `edit.json`, atomically, creating its directory if needed.
/// Returns the backup of the previous file (`<name>.bak-<unix secs>`, with `-1`, `-2`, … added
/// if that name is taken), or `None` when there was no file. Callers skip the write when
/// `edit.changes` is empty.
pub fn write_settings(path: &Path, edit: &Edit) -> io::Result<Option<PathBuf>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    write_settings_at(path, edit, now)
}

fn write_settings_at(path: &Path, edit: &Edit, now_secs: u64) -> io::Result<Option<PathBuf>> {
    // Follow a symlink so the link survives and its target gets the new text.
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let name = target
        .file_name()
        .ok_or_else(|| invalid(format!("{} has no file name", target.display())))?
        .to_os_string();
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;

    let previous = match fs::metadata(&target) {
        Ok(m) if m.is_file() => Some(m.permissions()),
        Ok(_) => return Err(invalid(format!("{} is not a file", target.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let backup = match &previous {
        Some(perms) => Some(backup(&target, &dir, &name, now_secs, perms)?),
        None => None,
    };

    let (tmp, mut file) = create_unique(&dir, &temp_name(&name, now_secs), None)?;
    let written = (|| {
        file.write_all(edit.json.as_bytes())?;
        if let Some(perms) = &previous {
            file.set_permissions(perms.clone())?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(&dir);
    Ok(backup)
}

/// Copy `target` to a fresh `<name>.bak-<secs>[-n]` with the same permissions, synced.
fn backup(
    target: &Path,
    dir: &Path,
    name: &OsString,
    now_secs: u64,
    perms: &Permissions,
) -> io::Result<PathBuf> {
    let mut base = name.clone();
    base.push(format!(".bak-{now_secs}"));
    let (path, mut out) = create_unique(dir, &base, Some(perms))?;
    let copied = (|| {
        io::copy(&mut File::open(target)?, &mut out)?;
        out.sync_all()
    })();
    match copied {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

fn temp_name(name: &OsString, now_secs: u64) -> OsString {
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".tmp-{}-{now_secs}", std::process::id()));
    tmp
}

/// Create `dir/base`, or `dir/base-1`, `dir/base-2`, … whichever does not exist yet. New files
/// are 0600 on unix; `perms`, when given, is applied afterwards.
fn create_unique(
    dir: &Path,
    base: &OsString,
    perms: Option<&Permissions>,
) -> io::Result<(PathBuf, File)> {
    for n in 0..1000u32 {
        let mut candidate = base.clone();
        if n > 0 {
            candidate.push(format!("-{n}"));
        }
        let path = dir.join(&candidate);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(file) => {
                if let Some(perms) = perms {
                    file.set_permissions(perms.clone())?;
                }
                return Ok((path, file));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "no free name for {} in {}",
            PathBuf::from(base).display(),
            dir.display()
        ),
    ))
}

/// Make the rename durable. Best effort: some filesystems refuse to fsync a directory, and the
/// new file is already in place by then.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// What `claude setup` did.
pub struct SetupResult {
    /// The file written.
    pub path: PathBuf,
    /// The previous file's backup, if there was one and anything changed.
    pub backup: Option<PathBuf>,
    /// The changes, secrets masked in their `Display`.
    pub changes: Vec<proxy_core::claude_settings::Change>,
}

/// Point Claude Code at this proxy (`direct = false`) or back at Anthropic (`direct = true`),
/// editing only the keys the proxy owns. Nothing is written when nothing changes.
/// `base_url` overrides the address written (the admin API passes the one the browser used).
pub fn setup(
    cfg: &crate::config::Config,
    direct: bool,
    base_url: Option<String>,
) -> Result<SetupResult, String> {
    let plan = plan(cfg, direct, base_url)?;
    let backup = if plan.edit.changes.is_empty() {
        None
    } else {
        write_settings(&plan.path, &plan.edit)
            .map_err(|e| format!("cannot write {}: {e}", plan.path.display()))?
    };
    Ok(SetupResult {
        path: plan.path,
        backup,
        changes: plan.edit.changes,
    })
}

/// What [`setup`] would write, without writing: the file, its text now, the edit.
pub struct Plan {
    /// Claude Code's settings file.
    pub path: PathBuf,
    /// Its text now (`None`: there is none).
    pub existing: Option<String>,
    /// The new text and the changes.
    pub edit: proxy_core::claude_settings::Edit,
}

/// Compute [`setup`]'s edit (the dashboard shows it as a diff before the user applies it).
pub fn plan(
    cfg: &crate::config::Config,
    direct: bool,
    base_url: Option<String>,
) -> Result<Plan, String> {
    use proxy_core::claude_settings::{ProxySettings, apply_direct, apply_proxy};
    let path = claude_settings_path();
    let existing = match fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let host = if cfg.host == "0.0.0.0" || cfg.host == "::" {
        "127.0.0.1"
    } else {
        cfg.host.as_str()
    };
    let edit = if direct {
        apply_direct(existing.as_deref())
    } else {
        apply_proxy(
            existing.as_deref(),
            &ProxySettings {
                base_url: base_url.unwrap_or_else(|| format!("http://{host}:{}", cfg.port)),
                api_key: cfg.client_key.clone().unwrap_or_else(|| "any-key".into()),
                opus_model: "claude-opus-4-5".into(),
                sonnet_model: "claude-sonnet-4-5".into(),
                haiku_model: "claude-haiku-4-5".into(),
                model: None,
            },
        )
    }
    .map_err(|e| format!("{}: {e} (the file was left alone)", path.display()))?;
    Ok(Plan {
        path,
        existing,
        edit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            let p =
                std::env::temp_dir().join(format!("ccp-claude-setup-{}-{tag}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).expect("scratch dir");
            Scratch(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn edit(json: &str) -> Edit {
        Edit {
            json: json.to_owned(),
            changes: Vec::new(),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn path_from_env() {
        assert_eq!(
            settings_path_from(Some("/cfg".into()), Some("/home/u".into())),
            PathBuf::from("/cfg/settings.json")
        );
        assert_eq!(
            settings_path_from(Some("".into()), Some("/home/u".into())),
            PathBuf::from("/home/u/.claude/settings.json")
        );
        assert_eq!(
            settings_path_from(None, None),
            PathBuf::from("./.claude/settings.json")
        );
    }

    #[test]
    fn new_file_in_new_dir() {
        let s = Scratch::new("new");
        let path = s.0.join("a/b/.claude/settings.json");
        let backup = write_settings(&path, &edit("{}\n")).expect("write");
        assert_eq!(backup, None);
        assert_eq!(fs::read_to_string(&path).expect("read"), "{}\n");
        assert_eq!(names(path.parent().expect("dir")), ["settings.json"]);
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn existing_file_backed_up_and_permissions_kept() {
        let s = Scratch::new("existing");
        let path = s.0.join("settings.json");
        fs::write(&path, "{\"model\":\"opus\"}").expect("seed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        }
        let backup = write_settings_at(&path, &edit("{\n  \"a\": 1\n}\n"), 1_786_000_000)
            .expect("write")
            .expect("backup");
        assert_eq!(backup, s.0.join("settings.json.bak-1786000000"));
        assert_eq!(
            fs::read_to_string(&backup).expect("backup"),
            "{\"model\":\"opus\"}"
        );
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            "{\n  \"a\": 1\n}\n"
        );
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o640);
            assert_eq!(mode(&backup), 0o640);
        }

        // Same second again: the first backup is not overwritten.
        let second = write_settings_at(&path, &edit("{}\n"), 1_786_000_000)
            .expect("write")
            .expect("backup");
        assert_eq!(second, s.0.join("settings.json.bak-1786000000-1"));
        assert_eq!(
            fs::read_to_string(&second).expect("backup"),
            "{\n  \"a\": 1\n}\n"
        );
        assert_eq!(
            fs::read_to_string(&backup).expect("backup"),
            "{\"model\":\"opus\"}"
        );
        assert_eq!(
            names(&s.0),
            [
                "settings.json",
                "settings.json.bak-1786000000",
                "settings.json.bak-1786000000-1"
            ]
        );
    }

    #[test]
    fn refuses_a_directory() {
        let s = Scratch::new("dir");
        let path = s.0.join("settings.json");
        fs::create_dir_all(&path).expect("dir");
        let e = write_settings(&path, &edit("{}\n")).expect_err("dir");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(names(&s.0), ["settings.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn symlink_stays_a_link() {
        let s = Scratch::new("link");
        let real_dir = s.0.join("dotfiles");
        fs::create_dir_all(&real_dir).expect("dir");
        let real = real_dir.join("settings.json");
        fs::write(&real, "{}").expect("seed");
        let claude = s.0.join(".claude");
        fs::create_dir_all(&claude).expect("dir");
        let link = claude.join("settings.json");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");

        let backup = write_settings_at(&link, &edit("{\"x\": 1}\n"), 7)
            .expect("write")
            .expect("backup");
        assert!(
            fs::symlink_metadata(&link)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&link).expect("read"), "{\"x\": 1}\n");
        assert_eq!(
            backup,
            fs::canonicalize(&real_dir)
                .expect("canon")
                .join("settings.json.bak-7")
        );
        assert_eq!(names(&claude), ["settings.json"]);
    }
}
