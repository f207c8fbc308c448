//! Reading and writing datasets as `.npz` archives (the D4RL/OGBench layout).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek};
use std::path::Path;

use ndarray::{ArrayD, ArrayView1, ArrayView2, IxDyn};
use ndarray_npy::{NpzReader, NpzWriter, ReadNpyError, ReadNpzError, ReadableElement};

use super::Dataset;
use crate::RlError;

/// The arrays a file must have.
const REQUIRED: [&str; 4] = ["observations", "actions", "rewards", "terminals"];

impl Dataset {
    /// Writes the dataset as a compressed `.npz` archive: `observations` (n, obs_dim),
    /// `actions` (n, act_dim), `rewards`, `terminals`, `timeouts` (n,) and `next_observations`
    /// (n, obs_dim), all `float32`. The dataset is validated first.
    pub fn save_npz(&self, path: &Path) -> Result<(), RlError> {
        self.validate()
            .map_err(|e| dataset_error(path, e.to_string()))?;
        let file = File::create(path).map_err(|source| RlError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let failed = |name: &str, e: &dyn std::fmt::Display| {
            dataset_error(path, format!("writing `{name}`: {e}"))
        };
        let n = self.len();
        let mut npz = NpzWriter::new_compressed(BufWriter::new(file));
        for (name, values, width) in [
            ("observations", &self.observations, self.obs_dim),
            ("actions", &self.actions, self.act_dim),
            ("next_observations", &self.next_observations, self.obs_dim),
        ] {
            let matrix = ArrayView2::from_shape((n, width), values.as_slice())
                .map_err(|e| failed(name, &e))?;
            npz.add_array(name, &matrix).map_err(|e| failed(name, &e))?;
        }
        for (name, values) in [
            ("rewards", &self.rewards),
            ("terminals", &self.terminals),
            ("timeouts", &self.timeouts),
        ] {
            npz.add_array(name, &ArrayView1::from(values.as_slice()))
                .map_err(|e| failed(name, &e))?;
        }
        npz.finish().map_err(|e| failed("the archive", &e))?;
        Ok(())
    }

    /// Reads a `.npz` dataset in the D4RL/OGBench layout and validates it.
    ///
    /// Needs `observations` and `actions` ((n, d), or (n,) for d = 1), `rewards` and
    /// `terminals` ((n,) or (n, 1)); `timeouts` and `next_observations` are optional, other
    /// arrays are ignored. Values may be `float32` or `float64`; `terminals` and `timeouts`
    /// may also be `bool`, `uint8`, `int32` or `int64`, holding 0 and 1.
    ///
    /// Without `next_observations` (OGBench often omits it), row i's next observation is row
    /// i + 1's within an episode, episodes ending at a terminal or a timeout. A terminal row
    /// keeps its own observation as the next one (never bootstrapped from); the last row of an
    /// episode cut by a timeout, and the file's last row when it is not terminal, have no next
    /// observation and are dropped.
    ///
    /// Errors name the file and the offending array.
    pub fn load_npz(path: &Path) -> Result<Dataset, RlError> {
        let file = File::open(path).map_err(|source| RlError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut npz = NpzReader::new(BufReader::new(file))
            .map_err(|e| dataset_error(path, format!("not an npz archive: {e}")))?;
        let names = npz
            .names()
            .map_err(|e| dataset_error(path, format!("listing the arrays: {e}")))?;
        let has = |name: &str| names.iter().any(|n| n == name);
        if let Some(missing) = REQUIRED.iter().find(|name| !has(name)) {
            return Err(dataset_error(
                path,
                format!("missing array `{missing}` (have: {})", names.join(", ")),
            ));
        }

        let mut read = Reader {
            npz: &mut npz,
            path,
        };
        let (observations, n, obs_dim) = read.matrix("observations")?;
        let (actions, rows, act_dim) = read.matrix("actions")?;
        read.rows("actions", rows, n)?;
        let rewards = read.column("rewards", n)?;
        let terminals = read.flags("terminals", n)?;
        let timeouts = if has("timeouts") {
            read.flags("timeouts", n)?
        } else {
            vec![0.0; n]
        };
        let data = if has("next_observations") {
            let (next_observations, rows, dim) = read.matrix("next_observations")?;
            read.rows("next_observations", rows, n)?;
            if dim != obs_dim {
                return Err(dataset_error(
                    path,
                    format!("`next_observations` has {dim} columns, `observations` {obs_dim}"),
                ));
            }
            Dataset {
                obs_dim,
                act_dim,
                observations,
                actions,
                rewards,
                terminals,
                next_observations,
                timeouts,
            }
        } else {
            with_derived_next(Dataset {
                obs_dim,
                act_dim,
                observations,
                actions,
                rewards,
                terminals,
                next_observations: Vec::new(),
                timeouts,
            })
        };
        data.validate()
            .map_err(|e| dataset_error(path, e.to_string()))?;
        Ok(data)
    }
}

/// A [`RlError::Dataset`] for `path`.
fn dataset_error(path: &Path, message: String) -> RlError {
    RlError::Dataset {
        path: path.to_path_buf(),
        message,
    }
}

/// Fills in `next_observations` from the following rows (see [`Dataset::load_npz`]).
fn with_derived_next(data: Dataset) -> Dataset {
    let (n, o, a) = (data.len(), data.obs_dim, data.act_dim);
    let mut out = Dataset {
        obs_dim: o,
        act_dim: a,
        ..Dataset::default()
    };
    for i in 0..n {
        let terminal = data.terminals[i] != 0.0;
        let next = if terminal {
            i
        } else if data.timeouts[i] == 0.0 && i + 1 < n {
            i + 1
        } else {
            continue;
        };
        out.observations
            .extend_from_slice(&data.observations[i * o..(i + 1) * o]);
        out.actions
            .extend_from_slice(&data.actions[i * a..(i + 1) * a]);
        out.rewards.push(data.rewards[i]);
        out.terminals.push(data.terminals[i]);
        out.timeouts.push(data.timeouts[i]);
        out.next_observations
            .extend_from_slice(&data.observations[next * o..(next + 1) * o]);
    }
    out
}

/// Reads arrays of one archive, converting them to `f32` rows.
struct Reader<'a, R: Read + Seek> {
    npz: &'a mut NpzReader<R>,
    path: &'a Path,
}

impl<R: Read + Seek> Reader<'_, R> {
    /// Array `name` as `T`; `None` when the file stores another element type.
    fn try_read<T: ReadableElement>(&mut self, name: &str) -> Result<Option<ArrayD<T>>, RlError> {
        match self.npz.by_name::<ndarray::OwnedRepr<T>, IxDyn>(name) {
            Ok(array) => Ok(Some(array)),
            Err(ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_))) => Ok(None),
            Err(e) => Err(dataset_error(self.path, format!("reading `{name}`: {e}"))),
        }
    }

    /// Array `name` of floats (`float32` or `float64`), in row-major order, and its shape.
    fn floats(&mut self, name: &str) -> Result<(Vec<f32>, Vec<usize>), RlError> {
        if let Some(a) = self.try_read::<f32>(name)? {
            return Ok((a.iter().copied().collect(), a.shape().to_vec()));
        }
        if let Some(a) = self.try_read::<f64>(name)? {
            return Ok((a.iter().map(|&x| x as f32).collect(), a.shape().to_vec()));
        }
        Err(dataset_error(
            self.path,
            format!("`{name}` must be float32 or float64"),
        ))
    }

    /// Array `name` as an (n, d) matrix (a 1-D array is (n, 1)): values, n, d.
    fn matrix(&mut self, name: &str) -> Result<(Vec<f32>, usize, usize), RlError> {
        let (values, shape) = self.floats(name)?;
        match shape[..] {
            [n] => Ok((values, n, 1)),
            [n, d] => Ok((values, n, d)),
            _ => Err(dataset_error(
                self.path,
                format!("`{name}` must be 1-D or 2-D, has shape {shape:?}"),
            )),
        }
    }

    /// Checks that array `name` has `n` rows like `observations`.
    fn rows(&self, name: &str, rows: usize, n: usize) -> Result<(), RlError> {
        if rows == n {
            Ok(())
        } else {
            Err(dataset_error(
                self.path,
                format!("`{name}` has {rows} rows, `observations` has {n}"),
            ))
        }
    }

    /// Checks that a per-row array of shape `shape` is (n,) or (n, 1).
    fn check_column(&self, name: &str, shape: &[usize], n: usize) -> Result<(), RlError> {
        match shape {
            [rows] | [rows, 1] => self.rows(name, *rows, n),
            _ => Err(dataset_error(
                self.path,
                format!("`{name}` must have shape (n,) or (n, 1), has {shape:?}"),
            )),
        }
    }

    /// Per-row floats of shape (n,) or (n, 1).
    fn column(&mut self, name: &str, n: usize) -> Result<Vec<f32>, RlError> {
        let (values, shape) = self.floats(name)?;
        self.check_column(name, &shape, n)?;
        Ok(values)
    }

    /// Per-row flags (float, bool or integer) of shape (n,) or (n, 1), as 0.0 / 1.0 (other
    /// values are kept for [`Dataset::validate`] to report).
    fn flags(&mut self, name: &str, n: usize) -> Result<Vec<f32>, RlError> {
        let (values, shape): (Vec<f32>, Vec<usize>) = if let Some(a) = self.try_read::<f32>(name)? {
            (a.iter().copied().collect(), a.shape().to_vec())
        } else if let Some(a) = self.try_read::<f64>(name)? {
            (a.iter().map(|&x| x as f32).collect(), a.shape().to_vec())
        } else if let Some(a) = self.try_read::<bool>(name)? {
            (
                a.iter().map(|&x| f32::from(u8::from(x))).collect(),
                a.shape().to_vec(),
            )
        } else if let Some(a) = self.try_read::<u8>(name)? {
            (
                a.iter().map(|&x| f32::from(x)).collect(),
                a.shape().to_vec(),
            )
        } else if let Some(a) = self.try_read::<i32>(name)? {
            (a.iter().map(|&x| x as f32).collect(), a.shape().to_vec())
        } else if let Some(a) = self.try_read::<i64>(name)? {
            (a.iter().map(|&x| x as f32).collect(), a.shape().to_vec())
        } else {
            return Err(dataset_error(
                self.path,
                format!("`{name}` must be float32, float64, bool, uint8, int32 or int64"),
            ));
        };
        self.check_column(name, &shape, n)?;
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use ndarray::{Array1, Array2};

    use super::*;
    use crate::dataset::Quality;
    use crate::env::EnvKind;

    /// A file path in the temporary directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str) -> Self {
            Self(std::env::temp_dir().join(format!("flowopt-rl-{}-{name}.npz", std::process::id())))
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Writes arrays built by `add` into `path`.
    fn write(path: &Path, add: impl FnOnce(&mut NpzWriter<File>)) {
        let mut npz = NpzWriter::new(File::create(path).unwrap());
        add(&mut npz);
        npz.finish().unwrap();
    }

    fn error_text(result: Result<Dataset, RlError>) -> String {
        match result {
            Err(e @ RlError::Dataset { .. }) => e.to_string(),
            other => panic!("expected a dataset error, got {other:?}"),
        }
    }

    #[test]
    fn collect_save_load_round_trip() {
        let file = TempFile::new("round-trip");
        for kind in [EnvKind::Pendulum, EnvKind::Bandit2d] {
            let data = Dataset::collect(kind, Quality::Mixed, 3, 5).unwrap();
            data.save_npz(&file.0).unwrap();
            assert_eq!(Dataset::load_npz(&file.0).unwrap(), data);
        }
    }

    #[test]
    fn arrays_of_different_lengths_are_an_error_naming_the_array() {
        let file = TempFile::new("lengths");
        write(&file.0, |npz| {
            npz.add_array("observations", &Array2::<f32>::zeros((4, 3)))
                .unwrap();
            npz.add_array("actions", &Array2::<f32>::zeros((4, 1)))
                .unwrap();
            npz.add_array("rewards", &Array1::<f32>::zeros(3)).unwrap();
            npz.add_array("terminals", &Array1::<f32>::zeros(4))
                .unwrap();
        });
        let message = error_text(Dataset::load_npz(&file.0));
        assert!(message.contains("`rewards` has 3 rows"), "{message}");
        assert!(message.contains("lengths"), "the path is named: {message}");
    }

    #[test]
    fn missing_arrays_and_files_are_errors() {
        let file = TempFile::new("missing");
        write(&file.0, |npz| {
            npz.add_array("observations", &Array2::<f32>::zeros((4, 3)))
                .unwrap();
        });
        let message = error_text(Dataset::load_npz(&file.0));
        assert!(message.contains("missing array `actions`"), "{message}");
        let absent = TempFile::new("absent");
        assert!(matches!(
            Dataset::load_npz(&absent.0),
            Err(RlError::Io { .. })
        ));
        std::fs::write(&absent.0, b"not a zip").unwrap();
        assert!(message_of_garbage(&absent.0).contains("not an npz archive"));
    }

    fn message_of_garbage(path: &Path) -> String {
        error_text(Dataset::load_npz(path))
    }

    #[test]
    fn next_observations_are_derived_when_missing() {
        // Episode one: rows 0-2, cut by a timeout; episode two: rows 3-4, terminal; then an
        // unfinished row 5. f64 values, bool terminals, u8 timeouts, (n, 1) rewards.
        let file = TempFile::new("derive");
        let obs = Array2::from_shape_fn((6, 2), |(i, j)| (10 * i + j) as f64);
        write(&file.0, |npz| {
            npz.add_array("observations", &obs).unwrap();
            npz.add_array(
                "actions",
                &Array1::from(vec![0.1f64, 0.2, 0.3, 0.4, 0.5, 0.6]),
            )
            .unwrap();
            npz.add_array("rewards", &Array2::from_shape_fn((6, 1), |(i, _)| i as f32))
                .unwrap();
            npz.add_array(
                "terminals",
                &Array1::from(vec![false, false, false, false, true, false]),
            )
            .unwrap();
            npz.add_array("timeouts", &Array1::from(vec![0u8, 0, 1, 0, 0, 0]))
                .unwrap();
        });
        let data = Dataset::load_npz(&file.0).unwrap();
        assert_eq!((data.obs_dim, data.act_dim), (2, 1));
        // Rows 2 (timeout) and 5 (last, not terminal) are dropped.
        assert_eq!(data.rewards, vec![0.0, 1.0, 3.0, 4.0]);
        assert_eq!(data.actions, vec![0.1, 0.2, 0.4, 0.5]);
        assert_eq!(data.terminals, vec![0.0, 0.0, 0.0, 1.0]);
        assert_eq!(data.timeouts, vec![0.0; 4]);
        assert_eq!(
            data.observations,
            vec![0.0, 1.0, 10.0, 11.0, 30.0, 31.0, 40.0, 41.0]
        );
        assert_eq!(
            data.next_observations,
            // Rows 0, 1 and 3 take the next row's; terminal row 4 keeps its own.
            vec![10.0, 11.0, 20.0, 21.0, 40.0, 41.0, 40.0, 41.0]
        );
    }

    #[test]
    fn integer_flags_and_bad_values_are_checked() {
        let file = TempFile::new("flags");
        let add_common = |npz: &mut NpzWriter<File>| {
            npz.add_array("observations", &Array2::<f32>::zeros((3, 2)))
                .unwrap();
            npz.add_array("next_observations", &Array2::<f32>::zeros((3, 2)))
                .unwrap();
            npz.add_array("actions", &Array2::<f32>::zeros((3, 2)))
                .unwrap();
            npz.add_array("rewards", &Array1::<f32>::zeros(3)).unwrap();
        };
        write(&file.0, |npz| {
            add_common(npz);
            npz.add_array("terminals", &Array1::from(vec![0i64, 0, 1]))
                .unwrap();
            npz.add_array("timeouts", &Array1::from(vec![0i32, 0, 0]))
                .unwrap();
        });
        let data = Dataset::load_npz(&file.0).unwrap();
        assert_eq!(data.terminals, vec![0.0, 0.0, 1.0]);
        write(&file.0, |npz| {
            add_common(npz);
            npz.add_array("terminals", &Array1::from(vec![0i64, 2, 1]))
                .unwrap();
        });
        let message = error_text(Dataset::load_npz(&file.0));
        assert!(
            message.contains("`terminals` must hold only 0 and 1"),
            "{message}"
        );
        write(&file.0, |npz| {
            add_common(npz);
            npz.add_array("terminals", &Array1::from(vec![0i16, 0, 1]))
                .unwrap();
        });
        let message = error_text(Dataset::load_npz(&file.0));
        assert!(message.contains("`terminals` must be float32"), "{message}");
    }
}
