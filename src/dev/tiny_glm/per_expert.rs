//! The official per-expert layout of routed experts, made from the stacked
//! tensors, so that a seed gives the same model in either layout.
//!
//! mistralrs splits the stacked `mlp.experts.gate_up_proj` [E, H, 2I] into
//! each expert's gate projection (the first I columns, transposed to [I, H])
//! and up projection (the last I columns), and `mlp.experts.down_proj`
//! [E, I, H] into down projections [H, I]; the per-expert tensors here are
//! exactly those slices.

/// One tensor to write: name, shape and little-endian element bytes.
pub(super) struct RawTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

/// The per-expert tensors holding a stacked expert tensor's values, or `None`
/// when `tensor` is not a stacked expert tensor. `element` is the size of one
/// element in bytes.
pub(super) fn split(tensor: &RawTensor, element: usize) -> Option<Vec<RawTensor>> {
    let (prefix, halves) = if let Some(prefix) = tensor.name.strip_suffix("gate_up_proj") {
        (prefix, &["gate_proj", "up_proj"][..])
    } else if let Some(prefix) = tensor.name.strip_suffix("down_proj") {
        (prefix, &["down_proj"][..])
    } else {
        return None;
    };
    if !prefix.ends_with("mlp.experts.") {
        return None;
    }
    let &[experts, rows, columns] = tensor.shape.as_slice() else {
        return None;
    };
    let width = columns / halves.len();
    let mut split = Vec::with_capacity(experts * halves.len());
    for expert in 0..experts {
        for (half, projection) in halves.iter().enumerate() {
            let mut bytes = Vec::with_capacity(width * rows * element);
            // Row j of the projection is column half * width + j of the
            // expert's [rows, columns] matrix.
            for column in half * width..(half + 1) * width {
                for row in 0..rows {
                    let at = ((expert * rows + row) * columns + column) * element;
                    bytes.extend_from_slice(&tensor.bytes[at..at + element]);
                }
            }
            split.push(RawTensor {
                name: format!("{prefix}{expert}.{projection}.weight"),
                shape: vec![width, rows],
                bytes,
            });
        }
    }
    Some(split)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stacked(name: &str, shape: [usize; 3]) -> RawTensor {
        let count: usize = shape.iter().product();
        RawTensor {
            name: name.into(),
            shape: shape.to_vec(),
            bytes: (0..count as u8).collect(),
        }
    }

    #[test]
    fn gate_up_splits_into_transposed_halves() {
        // Expert e, row r, column c holds e * 12 + r * 4 + c.
        let tensor = stacked("model.layers.1.mlp.experts.gate_up_proj", [2, 3, 4]);
        let split = split(&tensor, 1).expect("a stacked tensor");
        let names: Vec<_> = split.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "model.layers.1.mlp.experts.0.gate_proj.weight",
                "model.layers.1.mlp.experts.0.up_proj.weight",
                "model.layers.1.mlp.experts.1.gate_proj.weight",
                "model.layers.1.mlp.experts.1.up_proj.weight",
            ]
        );
        assert!(split.iter().all(|t| t.shape == [2, 3]));
        // Expert 1's up projection: columns 2 and 3, each over rows 0..3.
        assert_eq!(split[3].bytes, [14, 18, 22, 15, 19, 23]);
        assert_eq!(split[0].bytes, [0, 4, 8, 1, 5, 9]);
    }

    #[test]
    fn down_splits_into_transposed_experts_with_wide_elements() {
        // One expert, 2 rows, 3 columns of 2-byte elements.
        let tensor = RawTensor {
            name: "model.layers.2.mlp.experts.down_proj".into(),
            shape: vec![1, 2, 3],
            bytes: (0..12).collect(),
        };
        let split = split(&tensor, 2).expect("a stacked tensor");
        assert_eq!(split.len(), 1);
        assert_eq!(
            split[0].name,
            "model.layers.2.mlp.experts.0.down_proj.weight"
        );
        assert_eq!(split[0].shape, [3, 2]);
        assert_eq!(split[0].bytes, [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
    }

    #[test]
    fn other_tensors_are_left_alone() {
        let tensor = stacked("model.layers.0.mlp.down_proj.weight", [1, 1, 1]);
        assert!(split(&tensor, 1).is_none());
        let tensor = stacked("model.layers.1.mlp.shared_experts.down_proj", [1, 1, 1]);
        assert!(split(&tensor, 1).is_none());
    }
}
