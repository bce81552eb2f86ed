//! A check of a `.gguf` file's structure before mistralrs reads it: a
//! truncated or damaged download otherwise fails deep inside the loader with
//! "Critical failure loading model part 0!", naming neither the file nor the
//! fault.
//!
//! The layout (little-endian): the magic `GGUF`, a version (1 to 3), the
//! tensor and metadata counts, the metadata (key, type, value), one info
//! record per tensor (name, dimensions, type, offset), then the tensor data
//! from the next multiple of `general.alignment` (32 by default). The check
//! reads the header, never the data, and checks that every tensor's data
//! lies within the file.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
/// Nesting of metadata arrays deeper than this is taken as damage.
const MAX_ARRAY_DEPTH: u32 = 4;
/// ggml has at most 4 dimensions; leave room, refuse nonsense.
const MAX_DIMS: u32 = 8;

/// Checks `path`'s GGUF header and that its tensor data is all there.
/// The error is one line: the file, what is wrong, and what to do.
pub fn check_gguf(path: &Path) -> Result<(), String> {
    inspect(path).map_err(|why| {
        format!(
            "{} is not a usable GGUF file ({why}); it is corrupt or incomplete: download it again and compare its sha256 with the one its publisher lists",
            path.display()
        )
    })
}

fn inspect(path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read its size: {e}"))?
        .len();
    let mut reader = Reader {
        inner: BufReader::new(file),
        pos: 0,
        len,
        wide: true,
    };
    let mut magic = [0u8; 4];
    reader
        .fill(&mut magic)
        .map_err(|_| format!("it is {len} bytes, too short for a GGUF header"))?;
    if &magic != MAGIC {
        return Err(format!(
            "it starts with {:?}, not the GGUF magic \"GGUF\"",
            String::from_utf8_lossy(&magic)
        ));
    }
    let version = reader.u32()?;
    if !(1..=3).contains(&version) {
        return Err(format!("unknown GGUF version {version}"));
    }
    // Version 1 wrote counts and lengths as 32-bit numbers.
    reader.wide = version >= 2;
    let tensors = reader.count()?;
    let entries = reader.count()?;
    let mut alignment = DEFAULT_ALIGNMENT;
    for _ in 0..entries {
        let key = reader.string()?;
        let kind = reader.u32()?;
        if key == b"general.alignment" && kind == 4 {
            let value = u64::from(reader.u32()?);
            if value == 0 || !value.is_power_of_two() {
                return Err(format!("general.alignment is {value}"));
            }
            alignment = value;
        } else {
            reader.skip_value(kind, 0)?;
        }
    }
    // Each tensor record is at least a name length, a dimension count, a
    // type and an offset: refuse a count the file cannot hold.
    let smallest_record = if reader.wide { 24 } else { 20 };
    if tensors.saturating_mul(smallest_record) > reader.remaining() {
        return Err(format!(
            "it claims {tensors} tensors, more than the file can describe"
        ));
    }
    let mut infos = Vec::new();
    for _ in 0..tensors {
        let name = reader.string()?;
        let dims = reader.u32()?;
        if dims > MAX_DIMS {
            return Err(format!(
                "tensor {} has {dims} dimensions",
                String::from_utf8_lossy(&name)
            ));
        }
        let mut elements: u64 = 1;
        for _ in 0..dims {
            let dim = reader.count()?;
            elements = elements.checked_mul(dim).ok_or_else(|| {
                format!(
                    "tensor {} has an impossible shape",
                    String::from_utf8_lossy(&name)
                )
            })?;
        }
        let kind = reader.u32()?;
        let offset = reader.u64()?;
        infos.push((name, elements, kind, offset));
    }
    let data_start = reader.pos.div_ceil(alignment).saturating_mul(alignment);
    for (name, elements, kind, offset) in infos {
        let start = data_start.saturating_add(offset);
        let size = tensor_bytes(kind, elements).unwrap_or(0);
        let end = start.saturating_add(size);
        if end > len {
            return Err(format!(
                "tensor {}'s data ends at byte {end}, but the file has only {len} bytes",
                String::from_utf8_lossy(&name)
            ));
        }
    }
    Ok(())
}

/// Bytes of `elements` values of ggml type `kind`, when glint knows the
/// type's block layout (an unknown type is only checked to start in the
/// file).
fn tensor_bytes(kind: u32, elements: u64) -> Option<u64> {
    // (values per block, bytes per block)
    let (block, bytes) = match kind {
        0 => (1, 4),     // F32
        1 => (1, 2),     // F16
        2 => (32, 18),   // Q4_0
        3 => (32, 20),   // Q4_1
        6 => (32, 22),   // Q5_0
        7 => (32, 24),   // Q5_1
        8 => (32, 34),   // Q8_0
        9 => (32, 36),   // Q8_1
        10 => (256, 84), // Q2_K
        11 => (256, 110),
        12 => (256, 144),
        13 => (256, 176),
        14 => (256, 210),
        15 => (256, 292),
        16 => (256, 66), // IQ2_XXS
        17 => (256, 74),
        18 => (256, 98),
        19 => (256, 50),
        20 => (32, 18), // IQ4_NL
        21 => (256, 110),
        22 => (256, 82),
        23 => (256, 136),
        24 => (1, 1), // I8
        25 => (1, 2),
        26 => (1, 4),
        27 => (1, 8),
        28 => (1, 8), // F64
        29 => (256, 56),
        30 => (1, 2), // BF16
        _ => return None,
    };
    // Whole blocks only: a partial block would be a malformed tensor that
    // mistralrs reports itself; never claim more than certainly needed.
    (elements / block).checked_mul(bytes)
}

/// Bytes of one metadata value of a fixed-size type.
fn fixed_size(kind: u32) -> Option<u64> {
    match kind {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

struct Reader {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
    /// Counts and lengths are 64-bit (version 2 on).
    wide: bool,
}

impl Reader {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn need(&self, bytes: u64) -> Result<(), String> {
        if bytes > self.remaining() {
            return Err(format!(
                "the header runs past the end of the file at byte {} of {}",
                self.pos, self.len
            ));
        }
        Ok(())
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.need(buf.len() as u64)?;
        self.inner
            .read_exact(buf)
            .map_err(|e| format!("cannot read it: {e}"))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, bytes: u64) -> Result<(), String> {
        self.need(bytes)?;
        let step = i64::try_from(bytes).map_err(|_| "a length is too large".to_string())?;
        self.inner
            .seek_relative(step)
            .map_err(|e| format!("cannot read it: {e}"))?;
        self.pos += bytes;
        Ok(())
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut buf = [0u8; 4];
        self.fill(&mut buf)?;
        Ok(u32::from_le_bytes(buf))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut buf = [0u8; 8];
        self.fill(&mut buf)?;
        Ok(u64::from_le_bytes(buf))
    }

    /// A count or a length: 64-bit, or 32-bit in version 1.
    fn count(&mut self) -> Result<u64, String> {
        if self.wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, String> {
        let len = self.count()?;
        self.need(len)?;
        let mut buf = vec![0u8; len as usize];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    fn skip_string(&mut self) -> Result<(), String> {
        let len = self.count()?;
        self.skip(len)
    }

    fn skip_value(&mut self, kind: u32, depth: u32) -> Result<(), String> {
        if let Some(size) = fixed_size(kind) {
            return self.skip(size);
        }
        match kind {
            8 => self.skip_string(),
            9 if depth < MAX_ARRAY_DEPTH => {
                let item = self.u32()?;
                let count = self.count()?;
                if let Some(size) = fixed_size(item) {
                    return self.skip(count.saturating_mul(size));
                }
                // Every string or array item takes at least a length.
                self.need(count.saturating_mul(if self.wide { 8 } else { 4 }))?;
                for _ in 0..count {
                    self.skip_value(item, depth + 1)?;
                }
                Ok(())
            }
            9 => Err("metadata arrays are nested too deeply".into()),
            _ => Err(format!(
                "unknown metadata value type {kind} at byte {}",
                self.pos
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-3 file: one metadata entry, one F32 tensor of `elements`
    /// values, and `data` bytes of tensor data.
    fn gguf(elements: u64, data: usize) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&1u64.to_le_bytes()); // tensors
        out.extend_from_slice(&2u64.to_le_bytes()); // metadata entries
        let key = b"general.name";
        out.extend_from_slice(&(key.len() as u64).to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&8u32.to_le_bytes());
        out.extend_from_slice(&4u64.to_le_bytes());
        out.extend_from_slice(b"tiny");
        let key = b"tokenizer.ggml.scores";
        out.extend_from_slice(&(key.len() as u64).to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&9u32.to_le_bytes());
        out.extend_from_slice(&6u32.to_le_bytes());
        out.extend_from_slice(&2u64.to_le_bytes());
        out.extend_from_slice(&[0u8; 8]);
        let name = b"weight";
        out.extend_from_slice(&(name.len() as u64).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&elements.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // F32
        out.extend_from_slice(&0u64.to_le_bytes()); // offset
        while out.len() % 32 != 0 {
            out.push(0);
        }
        out.extend(std::iter::repeat_n(0u8, data));
        out
    }

    fn check(bytes: &[u8]) -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("model.gguf");
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
        check_gguf(&path)
    }

    #[test]
    fn a_complete_file_passes() {
        assert_eq!(check(&gguf(16, 64)), Ok(()));
    }

    #[test]
    fn damage_is_named() {
        let truncated = check(&gguf(16, 63)).expect_err("truncated data");
        assert!(truncated.contains("model.gguf"), "{truncated}");
        assert!(
            truncated.contains("tensor weight's data ends at byte"),
            "{truncated}"
        );
        assert!(truncated.contains("sha256"), "{truncated}");
        assert!(!truncated.contains('\n'), "{truncated}");

        let mut bad_magic = gguf(16, 64);
        bad_magic[0] = b'X';
        let error = check(&bad_magic).expect_err("bad magic");
        assert!(error.contains("not the GGUF magic"), "{error}");

        let header_only = gguf(16, 64);
        let error = check(&header_only[..40]).expect_err("cut header");
        assert!(error.contains("runs past the end"), "{error}");

        let mut huge_string = gguf(16, 64);
        huge_string[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        let error = check(&huge_string).expect_err("huge length");
        assert!(error.contains("runs past the end"), "{error}");

        let error = check(b"").expect_err("empty");
        assert!(error.contains("too short"), "{error}");
    }
}
