//! Whether the in-process engine runs with PagedAttention (`--paged-attn`).
//!
//! mistralrs's PagedAttention keeps the KV cache in fixed-size blocks on the
//! GPU. It exists on CUDA and Metal only, so `on` with the CPU is refused.
//! On CUDA, mistralrs 0.8.1 lays GLM-4.7-Flash's paged cache out for MLA
//! whether or not `MISTRALRS_NO_MLA=1` is set, while that variable sends
//! attention down the standard path, which cannot read that layout: every
//! step would fail, so the combination is refused before loading.

use std::fmt;

use super::local::DeviceChoice;

/// Tokens per PagedAttention block: mistralrs's default, set explicitly in
/// the config glint builds so that a turn can be placed on a boundary.
pub const BLOCK_SIZE: usize = 32;

/// The environment variable that turns mistralrs's MLA attention off.
pub const NO_MLA_VAR: &str = "MISTRALRS_NO_MLA";

/// `--paged-attn`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PagedAttnChoice {
    /// On with CUDA (unless `MISTRALRS_NO_MLA=1`), off elsewhere.
    #[default]
    Auto,
    On,
    Off,
}

impl fmt::Display for PagedAttnChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PagedAttnChoice::Auto => "auto",
            PagedAttnChoice::On => "on",
            PagedAttnChoice::Off => "off",
        })
    }
}

/// The kind of device a model runs on, as far as PagedAttention cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    Cuda,
    Metal,
}

impl DeviceKind {
    /// The kind of a resolved device.
    pub fn of(device: &mistralrs::Device) -> Self {
        if device.is_cuda() {
            DeviceKind::Cuda
        } else if device.is_metal() {
            DeviceKind::Metal
        } else {
            DeviceKind::Cpu
        }
    }

    /// The kind `--device` names, when it is known before the device is
    /// opened: `auto` is the CPU in a build without CUDA and Metal.
    pub fn of_choice(choice: DeviceChoice) -> Option<Self> {
        match choice {
            DeviceChoice::Cpu => Some(DeviceKind::Cpu),
            DeviceChoice::Cuda(_) => Some(DeviceKind::Cuda),
            DeviceChoice::Metal => Some(DeviceKind::Metal),
            DeviceChoice::Auto if !cfg!(feature = "cuda") && !cfg!(feature = "metal") => {
                Some(DeviceKind::Cpu)
            }
            DeviceChoice::Auto => None,
        }
    }
}

/// Why a `--paged-attn` choice cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagedAttnError {
    #[error(
        "--paged-attn on: PagedAttention does not exist on the CPU; use --paged-attn auto or off, or run on a GPU (--device cuda:N)"
    )]
    OnCpu,
    #[error(
        "--paged-attn on with MISTRALRS_NO_MLA=1: mistralrs 0.8.1 lays the paged KV cache out for MLA regardless, so every step would fail; unset MISTRALRS_NO_MLA or use --paged-attn off"
    )]
    NoMla,
}

/// Whether PagedAttention runs for `choice` on `device`; `no_mla` is
/// whether `MISTRALRS_NO_MLA=1` is set. `auto` picks what works: on with
/// CUDA unless MLA is off, off elsewhere.
pub fn decide(
    choice: PagedAttnChoice,
    device: DeviceKind,
    no_mla: bool,
) -> Result<bool, PagedAttnError> {
    match (choice, device) {
        (PagedAttnChoice::Off, _) => Ok(false),
        (PagedAttnChoice::On, DeviceKind::Cpu) => Err(PagedAttnError::OnCpu),
        // The MLA cache layout is chosen on CUDA only.
        (PagedAttnChoice::On, DeviceKind::Cuda) if no_mla => Err(PagedAttnError::NoMla),
        (PagedAttnChoice::On, _) => Ok(true),
        (PagedAttnChoice::Auto, DeviceKind::Cuda) => Ok(!no_mla),
        (PagedAttnChoice::Auto, _) => Ok(false),
    }
}

/// Whether `MISTRALRS_NO_MLA=1` is set (mistralrs's own test of it).
pub fn no_mla_from_env() -> bool {
    std::env::var(NO_MLA_VAR).is_ok_and(|value| value == "1")
}

/// Refuses a choice that cannot run where the device is known before it is
/// opened (`--device cpu`, `cuda:N`, or `auto` in a CPU-only build), so a
/// bad combination is one line before any loading.
pub fn check_early(choice: PagedAttnChoice, device: DeviceChoice) -> Result<(), PagedAttnError> {
    match DeviceKind::of_choice(device) {
        Some(kind) => decide(choice, kind, no_mla_from_env()).map(|_| ()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_on_with_cuda_only() {
        assert_eq!(
            decide(PagedAttnChoice::Auto, DeviceKind::Cuda, false),
            Ok(true)
        );
        assert_eq!(
            decide(PagedAttnChoice::Auto, DeviceKind::Cpu, false),
            Ok(false)
        );
        assert_eq!(
            decide(PagedAttnChoice::Auto, DeviceKind::Metal, false),
            Ok(false)
        );
    }

    #[test]
    fn on_with_the_cpu_is_refused_in_one_line() {
        let error = decide(PagedAttnChoice::On, DeviceKind::Cpu, false).unwrap_err();
        assert_eq!(error, PagedAttnError::OnCpu);
        let text = error.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("--paged-attn auto or off"), "{text}");
    }

    #[test]
    fn no_mla_with_paged_attention_on_cuda_is_refused() {
        assert_eq!(
            decide(PagedAttnChoice::On, DeviceKind::Cuda, true),
            Err(PagedAttnError::NoMla)
        );
        assert!(!PagedAttnError::NoMla.to_string().contains('\n'));
        // auto picks what works; off and the non-MLA layouts are unaffected.
        assert_eq!(
            decide(PagedAttnChoice::Auto, DeviceKind::Cuda, true),
            Ok(false)
        );
        assert_eq!(
            decide(PagedAttnChoice::Off, DeviceKind::Cuda, true),
            Ok(false)
        );
        assert_eq!(
            decide(PagedAttnChoice::On, DeviceKind::Metal, true),
            Ok(true)
        );
        assert_eq!(
            decide(PagedAttnChoice::On, DeviceKind::Cuda, false),
            Ok(true)
        );
    }

    #[test]
    fn off_is_always_off() {
        for kind in [DeviceKind::Cpu, DeviceKind::Cuda, DeviceKind::Metal] {
            assert_eq!(decide(PagedAttnChoice::Off, kind, false), Ok(false));
        }
    }

    #[test]
    fn the_cpu_is_known_before_loading() {
        assert_eq!(
            check_early(PagedAttnChoice::On, DeviceChoice::Cpu),
            Err(PagedAttnError::OnCpu)
        );
        assert_eq!(check_early(PagedAttnChoice::Off, DeviceChoice::Cpu), Ok(()));
        assert_eq!(
            DeviceKind::of_choice(DeviceChoice::Cuda(1)),
            Some(DeviceKind::Cuda)
        );
    }
}
