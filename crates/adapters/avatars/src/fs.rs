//! [`FsAvatarStore`]: avatars as files in one folder, for a single instance or a volume that
//! every instance mounts.

use std::path::{Path, PathBuf};

use contacts_domain::Error;
use contacts_domain::user::AvatarStore;

use crate::{Decodes, blocking, is_avatar_name, random_name, stored_name};

/// Stores avatars as `<random>.png` files in a folder, served under `{base_url}/media/`.
/// At most one image per core is decoded at a time.
#[derive(Debug, Clone)]
pub struct FsAvatarStore {
    dir: PathBuf,
    public_prefix: String,
    decodes: Decodes,
}

impl FsAvatarStore {
    /// A store writing into `dir` (created when needed) whose URLs start with
    /// `{base_url}/media/`.
    pub fn new(dir: impl Into<PathBuf>, base_url: &str) -> Self {
        Self::with(dir, base_url, Decodes::per_core())
    }

    /// [`FsAvatarStore::new`] with at most `decodes` images decoded at a time.
    pub fn with_decodes(dir: impl Into<PathBuf>, base_url: &str, decodes: usize) -> Self {
        Self::with(dir, base_url, Decodes::new(decodes))
    }

    fn with(dir: impl Into<PathBuf>, base_url: &str, decodes: Decodes) -> Self {
        Self { dir: dir.into(), public_prefix: format!("{}/media/", base_url.trim_end_matches('/')), decodes }
    }

    /// Decodes that may start now without waiting.
    pub fn free_decodes(&self) -> usize {
        self.decodes.free()
    }
}

fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(Error::unexpected)?;
    std::fs::write(dir.join(name), bytes).map_err(Error::unexpected)
}

impl AvatarStore for FsAvatarStore {
    async fn store(&self, upload: Vec<u8>) -> Result<String, Error> {
        let png = self.decodes.reencode(upload).await?;
        let dir = self.dir.clone();
        let name = blocking(move || {
            let name = random_name()?;
            write_new(&dir, &name, &png)?;
            Ok(name)
        })
        .await?;
        Ok(format!("{}{name}", self.public_prefix))
    }

    async fn remove(&self, url: &str) -> Result<(), Error> {
        let Some(name) = stored_name(url) else {
            return Ok(());
        };
        let path = self.dir.join(name);
        blocking(move || match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::unexpected(e)),
            _ => Ok(()),
        })
        .await
    }

    /// The bytes of a stored avatar by file name, or `None` if there is no such avatar. Names
    /// are checked, so no path outside the folder can be read.
    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        if !is_avatar_name(name) {
            return Ok(None);
        }
        let path = self.dir.join(name);
        blocking(move || match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::unexpected(e)),
        })
        .await
    }
}
