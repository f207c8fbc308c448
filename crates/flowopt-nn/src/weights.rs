//! A module's parameters as a Burn `.bpk` file.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

/// Why weights could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The weights are not a Burn record of this module (another shape, or not a `.bpk`).
    #[error("{what}: {message}")]
    Record {
        /// The file (or the embedded asset).
        what: String,
        /// What is wrong.
        message: String,
    },
}

/// Writes `module`'s parameters to `path` with the extension `bpk` (its folder is created),
/// through a temporary file beside it that is renamed into place; returns the path written.
pub fn save<M: Module>(module: &M, path: &Path) -> Result<PathBuf, WeightsError> {
    let weights = path.with_extension("bpk");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WeightsError::Io { path, source }
    };
    let dir = weights
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| WeightsError::Record {
            what: weights.display().to_string(),
            message: e.to_string(),
        })?;
    let (temp, mut file) = tempfile_in(dir, &weights).map_err(io(dir))?;
    let written = file.write_all(&bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(WeightsError::Io { path: temp, source });
    }
    std::fs::rename(&temp, &weights).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        WeightsError::Io {
            path: weights.clone(),
            source,
        }
    })?;
    Ok(weights)
}

/// A new file in `dir` named after `target` (with the process id and a counter), for writing
/// before the rename.
fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = target
        .file_name()
        .map_or_else(|| "weights".into(), |n| n.to_string_lossy().into_owned());
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `module` with the parameters of the `.bpk` file at `path` (the extension may be left out).
pub fn load<M: Module>(module: M, path: &Path) -> Result<M, WeightsError> {
    let weights = path.with_extension("bpk");
    if !weights.is_file() {
        return Err(WeightsError::Io {
            path: weights,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let what = weights.display().to_string();
    let record = ModuleRecord::load(&weights).map_err(|e| WeightsError::Record {
        what: what.clone(),
        message: e.to_string(),
    })?;
    apply(module, record, &what)
}

/// `module` with the parameters of a `.bpk` file's bytes (e.g. embedded in the binary with
/// `include_bytes!`); `what` names them in errors.
pub fn load_bytes<M: Module>(module: M, bytes: &[u8], what: &str) -> Result<M, WeightsError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
        WeightsError::Record {
            what: what.into(),
            message: e.to_string(),
        }
    })?;
    apply(module, record, what)
}

fn apply<M: Module>(module: M, record: ModuleRecord, what: &str) -> Result<M, WeightsError> {
    module
        .try_load_record(record)
        .map_err(|e| WeightsError::Record {
            what: what.into(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::prelude::*;

    use super::*;

    fn weights_of(layer: &Linear) -> Vec<f32> {
        layer.weight.val().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn saved_weights_load_back_from_the_file_and_from_its_bytes_and_leave_no_temp_file() {
        let device = Device::flex();
        let dir = std::env::temp_dir().join(format!("flowopt-nn-{}", std::process::id()));
        let layer = crate::seeded(&device, 3, || LinearConfig::new(3, 5).init(&device));
        let written = save(&layer, &dir.join("sub/layer.json")).unwrap();
        assert_eq!(written, dir.join("sub/layer.bpk"));
        let names: Vec<_> = std::fs::read_dir(dir.join("sub")).unwrap().collect();
        assert_eq!(names.len(), 1, "only the weights file remains: {names:?}");

        // Every module is built under `seeded`: an unseeded draw on another test's thread would
        // land between that test's seed and its initialisation.
        let fresh = || crate::seeded(&device, 4, || LinearConfig::new(3, 5).init(&device));
        assert_ne!(weights_of(&fresh()), weights_of(&layer));
        let loaded = load(fresh(), &dir.join("sub/layer")).unwrap();
        assert_eq!(weights_of(&loaded), weights_of(&layer));
        let bytes = std::fs::read(&written).unwrap();
        let embedded = load_bytes(fresh(), &bytes, "layer").unwrap();
        assert_eq!(weights_of(&embedded), weights_of(&layer));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_files_and_other_shapes_are_errors_naming_them() {
        let device = Device::flex();
        let dir = std::env::temp_dir().join(format!("flowopt-nn-shape-{}", std::process::id()));
        let linear = |i, o| crate::seeded(&device, 1, || LinearConfig::new(i, o).init(&device));
        let missing = load(linear(3, 5), &dir.join("none")).unwrap_err();
        assert!(matches!(missing, WeightsError::Io { .. }), "{missing}");
        assert!(missing.to_string().contains("none.bpk"), "{missing}");

        let layer = linear(3, 5);
        save(&layer, &dir.join("small")).unwrap();
        let other = load(linear(4, 5), &dir.join("small")).unwrap_err();
        assert!(matches!(other, WeightsError::Record { .. }), "{other}");
        assert!(other.to_string().contains("small.bpk"), "{other}");
        let garbage = load_bytes(layer, b"not a record", "garbage").unwrap_err();
        assert!(garbage.to_string().starts_with("garbage"), "{garbage}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
