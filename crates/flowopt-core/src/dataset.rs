//! The training-data file written by `flowopt dataset` and read by the generator's training.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! magic        8 bytes   b"FLOWOPTD"
//! header_len   u32       length of the header JSON
//! header       JSON      DatasetHeader: format version, Bernstein order, generator settings
//! records      repeated: u32 length, then one DatasetRecord as JSON
//! ```
//!
//! Records are appended one at a time, so a run that is interrupted leaves a valid prefix (a
//! torn last record is detected by its length and dropped on resume). Floats are written with
//! exact round-trip precision, so a stored label checks exactly as it did when written.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::problem::Problem;
use crate::trajectory::Coefficients;

/// File magic.
pub const MAGIC: &[u8; 8] = b"FLOWOPTD";
/// Current format version.
pub const FORMAT_VERSION: u32 = 1;

/// The header: what wrote the file and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetHeader {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// Bernstein order of every stored coefficient vector.
    pub order: usize,
    /// Settings of the generator that wrote the records (free-form JSON).
    pub settings: serde_json::Value,
}

/// One problem and its verified-feasible solutions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// Position of the problem in the generator's deterministic sequence.
    pub index: u64,
    /// Scenario family it was drawn from.
    pub scenario: String,
    /// Seed of the scenario generator.
    pub seed: u64,
    /// The problem.
    pub problem: Problem,
    /// One or more feasible joint solutions, each one coefficient pair per robot.
    pub solutions: Vec<Vec<Coefficients>>,
    /// Smoothness of each solution.
    pub smoothness: Vec<f64>,
}

/// Errors reading or writing a dataset.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// An I/O failure.
    #[error("dataset I/O: {0}")]
    Io(#[from] io::Error),
    /// The file is not a Flow-Opt dataset, or a record is corrupt.
    #[error("not a valid Flow-Opt dataset: {0}")]
    Format(String),
    /// The file was written with other settings than the ones asked to resume with.
    #[error("existing dataset was written with other settings: {0}")]
    SettingsMismatch(String),
}

/// Appends records to a dataset file, creating it or resuming it.
pub struct DatasetWriter {
    out: BufWriter<File>,
}

impl DatasetWriter {
    /// Opens `path` for appending. A new file gets `header`; an existing one must carry the
    /// same header, and its valid records are returned so the caller can skip them.
    pub fn open(
        path: &Path,
        header: &DatasetHeader,
    ) -> Result<(Self, Vec<DatasetRecord>), DatasetError> {
        let exists = path.exists() && std::fs::metadata(path)?.len() > 0;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut records = Vec::new();
        if exists {
            let (found, recs, valid_len) = read_from(&mut BufReader::new(&mut file))?;
            if found != *header {
                return Err(DatasetError::SettingsMismatch(format!(
                    "file has {}, asked for {}",
                    serde_json::to_string(&found).unwrap_or_default(),
                    serde_json::to_string(header).unwrap_or_default()
                )));
            }
            records = recs;
            // Drop a torn last record.
            file.set_len(valid_len)?;
            file.seek(SeekFrom::Start(valid_len))?;
        } else {
            let text =
                serde_json::to_vec(header).map_err(|e| DatasetError::Format(e.to_string()))?;
            file.write_all(MAGIC)?;
            file.write_all(&len_u32(text.len())?.to_le_bytes())?;
            file.write_all(&text)?;
        }
        Ok((
            Self {
                out: BufWriter::new(file),
            },
            records,
        ))
    }

    /// Appends one record and flushes it to the file.
    pub fn append(&mut self, record: &DatasetRecord) -> Result<(), DatasetError> {
        let text = serde_json::to_vec(record).map_err(|e| DatasetError::Format(e.to_string()))?;
        self.out.write_all(&len_u32(text.len())?.to_le_bytes())?;
        self.out.write_all(&text)?;
        self.out.flush()?;
        Ok(())
    }
}

/// Reads a whole dataset. A torn last record (an interrupted write) is ignored.
pub fn read_dataset(path: &Path) -> Result<(DatasetHeader, Vec<DatasetRecord>), DatasetError> {
    let mut reader = BufReader::new(File::open(path)?);
    let (header, records, _) = read_from(&mut reader)?;
    Ok((header, records))
}

fn len_u32(len: usize) -> Result<u32, DatasetError> {
    u32::try_from(len).map_err(|_| DatasetError::Format("record larger than 4 GiB".into()))
}

/// Reads header and records; returns the byte length of the valid prefix.
fn read_from(
    reader: &mut impl Read,
) -> Result<(DatasetHeader, Vec<DatasetRecord>, u64), DatasetError> {
    let mut magic = [0u8; 8];
    reader.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(DatasetError::Format("bad magic".into()));
    }
    let header_len =
        read_u32(reader)?.ok_or_else(|| DatasetError::Format("truncated header".into()))?;
    let mut text = vec![0u8; header_len as usize];
    reader.read_exact(&mut text)?;
    let header: DatasetHeader =
        serde_json::from_slice(&text).map_err(|e| DatasetError::Format(format!("header: {e}")))?;
    if header.version != FORMAT_VERSION {
        return Err(DatasetError::Format(format!(
            "version {} (this build reads {FORMAT_VERSION})",
            header.version
        )));
    }
    let mut valid = 12 + u64::from(header_len);
    let mut records = Vec::new();
    while let Some(len) = read_u32(reader)? {
        let mut buf = vec![0u8; len as usize];
        if reader.read_exact(&mut buf).is_err() {
            break; // torn record
        }
        match serde_json::from_slice::<DatasetRecord>(&buf) {
            Ok(r) => records.push(r),
            Err(e) => {
                return Err(DatasetError::Format(format!(
                    "record {}: {e}",
                    records.len()
                )));
            }
        }
        valid += 4 + u64::from(len);
    }
    Ok((header, records, valid))
}

/// Reads a u32, or `None` at a clean or torn end of file.
fn read_u32(reader: &mut impl Read) -> Result<Option<u32>, DatasetError> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match reader.read(&mut buf[got..])? {
            0 => return Ok(None),
            n => got += n,
        }
    }
    Ok(Some(u32::from_le_bytes(buf)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PlanOptions, Planner, Scenario, ScenarioConfig, StraightPlanner};

    fn record(index: u64) -> DatasetRecord {
        let problem = Scenario::Random
            .generate(&ScenarioConfig::new(3).seed(index))
            .unwrap();
        let plan = StraightPlanner::default()
            .plan(&problem, &PlanOptions::default())
            .unwrap();
        DatasetRecord {
            index,
            scenario: "random".into(),
            seed: index,
            solutions: vec![
                plan.trajectories
                    .iter()
                    .map(|t| t.coefficients.clone().unwrap())
                    .collect(),
            ],
            smoothness: vec![plan.metrics.smoothness],
            problem,
        }
    }

    #[test]
    fn round_trip_resume_and_torn_records() {
        let dir = std::env::temp_dir().join(format!("flowopt-ds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.fods");
        let _ = std::fs::remove_file(&path);
        let header = DatasetHeader {
            version: FORMAT_VERSION,
            order: 10,
            settings: serde_json::json!({"seed": 1}),
        };
        let (mut w, old) = DatasetWriter::open(&path, &header).unwrap();
        assert!(old.is_empty());
        w.append(&record(0)).unwrap();
        w.append(&record(1)).unwrap();
        drop(w);
        let (h, recs) = read_dataset(&path).unwrap();
        assert_eq!(h, header);
        assert_eq!(recs, vec![record(0), record(1)]);

        // A torn write: half a record at the end is dropped on resume.
        let full = std::fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&100u32.to_le_bytes()).unwrap();
        f.write_all(b"{\"index\":").unwrap();
        drop(f);
        let (mut w, old) = DatasetWriter::open(&path, &header).unwrap();
        assert_eq!(old.len(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), full);
        w.append(&record(2)).unwrap();
        drop(w);
        assert_eq!(read_dataset(&path).unwrap().1.len(), 3);

        // Other settings refuse to resume.
        let other = DatasetHeader {
            settings: serde_json::json!({"seed": 2}),
            ..header
        };
        assert!(matches!(
            DatasetWriter::open(&path, &other),
            Err(DatasetError::SettingsMismatch(_))
        ));
        std::fs::write(&path, b"nonsense").unwrap();
        assert!(matches!(read_dataset(&path), Err(DatasetError::Format(_))));
    }
}
