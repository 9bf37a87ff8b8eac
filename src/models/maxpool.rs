//! 2×2 max pooling with stride 2 as its own tract op.
//!
//! tract's pooling kernel handles strided 2×2 windows on a generic path that bounds-checks
//! every tap and calls `f32::max`, which has no wasm instruction (its NaN rule differs from
//! `f32.max`) and becomes a call to `fmaxf` per element. YuNet and the face mesh pool this way
//! 20 times per frame, which made pooling 11 ms of a 77 ms frame in the browser. This op does
//! the same reduction with plain comparisons over two input rows at a time, which LLVM turns
//! into straight-line code (and vector code where it can). Max is exact, so outputs are
//! identical to tract's for any input without NaNs, which images never produce.

use tract_onnx::prelude::tract_ndarray::{ArrayD, IxDyn};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{MaxPool, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Max over non-overlapping 2×2 windows of an NCHW f32 tensor (floor mode: an odd last row or
/// column is dropped, as ONNX MaxPool without padding does).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(super) struct MaxPool2x2;

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let view = input.to_plain_array_view::<f32>()?;
        let contiguous = view.as_standard_layout();
        let data = contiguous
            .as_slice()
            .context("standard layout is contiguous")?;
        let &[n, c, h, w] = view.shape() else {
            bail!("MaxPool2x2 expects NCHW, got shape {:?}", view.shape());
        };
        let (oh, ow) = (h / 2, w / 2);
        let mut out = vec![0f32; n * c * oh * ow];
        if oh > 0 && ow > 0 {
            for (plane, oplane) in data.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
                pool_plane(plane, w, oplane, ow);
            }
        }
        let out = ArrayD::from_shape_vec(IxDyn(&[n, c, oh, ow]), out)?;
        Ok(tvec!(out.into_tensor().into_tvalue()))
    }
}

#[inline]
fn max(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

fn pool_plane(plane: &[f32], w: usize, out: &mut [f32], ow: usize) {
    for (oy, orow) in out.chunks_exact_mut(ow).enumerate() {
        let r0 = &plane[2 * oy * w..][..2 * ow];
        let r1 = &plane[(2 * oy + 1) * w..][..2 * ow];
        for ((o, a), b) in orow
            .iter_mut()
            .zip(r0.chunks_exact(2))
            .zip(r1.chunks_exact(2))
        {
            *o = max(max(a[0], a[1]), max(b[0], b[1]));
        }
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        ensure!(shape.rank() == 4, "MaxPool2x2 expects a rank-4 input");
        let half = |d: &TDim| d.clone() / 2;
        Ok(tvec!(f32::fact([
            shape[0].clone(),
            shape[1].clone(),
            half(&shape[2]),
            half(&shape[3]),
        ])))
    }

    as_op!();
}

/// Replaces every plain 2×2/stride-2 NCHW f32 max pool of `model` by [`MaxPool2x2`]; other
/// pools (padding, other windows, index outputs) stay tract's. Returns how many it replaced.
pub(super) fn replace_2x2_pools(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(pool) = node.op_as::<MaxPool>() else {
            continue;
        };
        let spec = &pool.pool_spec;
        let unpadded = match &spec.padding {
            PaddingSpec::Valid => true,
            PaddingSpec::Explicit(b, a) => b.iter().chain(a).all(|&p| p == 0),
            PaddingSpec::ExplicitOnnxPool(b, a, ceil) => {
                !ceil && b.iter().chain(a).all(|&p| p == 0)
            }
            _ => false,
        };
        let fact = model.outlet_fact(node.inputs[0])?;
        let eligible = pool.with_index_outputs.is_none()
            && spec.data_format == DataFormat::NCHW
            && spec.kernel_shape.as_slice() == [2, 2]
            && spec.strides.as_deref() == Some(&[2, 2][..])
            && spec
                .dilations
                .as_deref()
                .is_none_or(|d| d.iter().all(|&x| x == 1))
            && unpadded
            && fact.datum_type == f32::datum_type()
            && fact.rank() == 4;
        if eligible {
            let inputs = node.inputs.clone();
            TypedModelPatch::replace_single_op(model, model.node(id), &inputs, MaxPool2x2)?
                .apply(model)?;
            replaced += 1;
        }
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_each_window_and_drops_odd_edges() {
        // One 3×5 plane: windows (0..2, 0..2) and (0..2, 2..4); row 2 and column 4 dropped.
        let plane = [
            1.0, 5.0, -2.0, -1.0, 9.0, //
            3.0, 2.0, -3.0, -7.0, 9.0, //
            9.0, 9.0, 9.0, 9.0, 9.0,
        ];
        let mut out = [0.0; 2];
        pool_plane(&plane, 5, &mut out, 2);
        assert_eq!(out, [5.0, -1.0]);
    }
}
