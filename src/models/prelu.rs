//! PReLU in one pass.
//!
//! tract-onnx expands ONNX `PRelu` into `Iff(0 < x, x, x · alpha)`: a comparison into a
//! boolean tensor, a multiplication and a select, three full passes, with the slope reshaped
//! by an axis insertion that leaves non-natural strides, which sends the multiplication down
//! tract's generic broadcasting path. MiniFASNet and the face mesh apply PReLU after nearly
//! every convolution, so that path was a third of MiniFASNet's time in the browser (see README
//! "Performance"). With a constant per-channel slope (MiniFASNet), [`ChannelPrelu`] does
//! `x > 0 ? x : slope[c] · x` in one pass along whichever axis the optimiser ends up putting
//! the channels on (the wasm build moves some convolutions to channels-last, where a
//! broadcast multiply has no fast kernel for channel counts like 26 or 103). Otherwise
//! (the face mesh's slopes are computed by a cast) the expansion is
//! `max(x, 0) + slope · min(x, 0)`, which tract runs as two fused by-scalar kernel chains.
//! Both are the same arithmetic as ONNX's definition, bit for bit.

use std::sync::Arc;

use tract_onnx::tract_core::ops::change_axes::{AxisChangeConsequence, InOut};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::math;

/// The expansion registered for `PRelu` (see [`super::OnnxGraph::parse`]).
#[derive(Debug, Clone, Hash)]
pub(super) struct MaxMinPrelu;

impl Expansion for MaxMinPrelu {
    fn name(&self) -> StaticName {
        "MaxMinPrelu".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = inputs[0];
        let fact = model.outlet_fact(x)?.clone();
        let rank = fact.rank();
        if let Some(op) = ChannelPrelu::for_slope(model.outlet_fact(inputs[1])?, &fact)? {
            return model.wire_node(name, op, &[x]);
        }
        let slope = match model.outlet_fact(inputs[1])?.konst.clone() {
            // A constant slope (the usual case): rebuilt at full rank in natural layout.
            Some(k) if k.rank() <= rank => {
                let k = k.cast_to_dt(fact.datum_type)?.into_owned();
                let mut shape = vec![1usize; rank - k.rank()];
                shape.extend_from_slice(k.shape());
                let natural = k.into_shape(&shape)?;
                model.add_const(format!("{name}.slope"), natural)?
            }
            _ => {
                let mut b = inputs[1];
                while model.outlet_fact(b)?.rank() < rank {
                    b = model.wire_node(
                        format!("{name}.add-axis-{}", model.outlet_fact(b)?.rank()),
                        AxisOp::Add(0),
                        &[b],
                    )?[0];
                }
                b
            }
        };
        let zero = tensor0(0.0f32)
            .cast_to_dt(fact.datum_type)?
            .into_owned()
            .into_shape(&vec![1usize; rank])?;
        let zero = model.add_const(format!("{name}.zero"), zero)?;
        let pos = model.wire_node(format!("{name}.pos"), math::max(), &[x, zero])?[0];
        let neg = model.wire_node(format!("{name}.neg"), math::min(), &[x, zero])?[0];
        let scaled = model.wire_node(format!("{name}.scaled"), math::mul(), &[neg, slope])?[0];
        model.wire_node(format!("{name}.sum"), math::add(), &[pos, scaled])
    }
}

/// A constant per-channel slope (bit-compared, so the op can be `Eq` as tract requires).
#[derive(Debug, Clone)]
struct Slope(Arc<[f32]>);

impl PartialEq for Slope {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(other.0.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for Slope {}

/// `x > 0 ? x : slope[c] · x`, with `c` the index along `axis`, for f32 tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ChannelPrelu {
    axis: usize,
    slope: Slope,
}

impl ChannelPrelu {
    /// The op for a constant slope with at most one non-unit axis (per channel), broadcast
    /// against an f32 input of `x`'s rank; `None` for anything else.
    fn for_slope(slope: &TypedFact, x: &TypedFact) -> TractResult<Option<Self>> {
        let Some(k) = &slope.konst else {
            return Ok(None);
        };
        if x.datum_type != f32::datum_type() || k.rank() > x.rank() {
            return Ok(None);
        }
        let k = k.cast_to::<f32>()?;
        let lead = x.rank() - k.rank();
        let non_unit: Vec<usize> = (0..k.rank()).filter(|&i| k.shape()[i] != 1).collect();
        let axis = match non_unit.as_slice() {
            [] => lead.min(x.rank().saturating_sub(1)),
            [i] => lead + i,
            _ => return Ok(None),
        };
        if !non_unit.is_empty() && x.shape[axis] != k.len().to_dim() {
            return Ok(None);
        }
        let values: Vec<f32> = k.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        Ok(Some(ChannelPrelu {
            axis,
            slope: Slope(values.into()),
        }))
    }
}

impl Op for ChannelPrelu {
    fn name(&self) -> StaticName {
        "ChannelPrelu".into()
    }

    op_as_typed_op!();
}

impl EvalOp for ChannelPrelu {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        // In place: the input is usually this op's alone (tract hands over the last use of
        // a value), so `into_tensor` takes it without a copy; tract tensors are contiguous.
        let mut tensor = args_1!(inputs).into_tensor();
        let shape: TVec<usize> = tensor.shape().into();
        let mut view = tensor.to_plain_array_view_mut::<f32>()?;
        let data = view
            .as_slice_mut()
            .context("tract tensors are contiguous")?;
        let slope = &self.slope.0;
        let inner: usize = shape[self.axis + 1..].iter().product();
        let channels = shape[self.axis];
        if slope.len() == 1 {
            let s = slope[0];
            data.iter_mut().for_each(|v| *v = prelu(*v, s));
        } else if inner == 1 {
            // Channels last: each row is one pixel's channels.
            for row in data.chunks_exact_mut(channels) {
                for (v, &s) in row.iter_mut().zip(slope.iter()) {
                    *v = prelu(*v, s);
                }
            }
        } else {
            for (i, block) in data.chunks_exact_mut(inner).enumerate() {
                let s = slope[i % channels];
                block.iter_mut().for_each(|v| *v = prelu(*v, s));
            }
        }
        drop(view);
        Ok(tvec!(tensor.into_tvalue()))
    }
}

#[inline(always)]
fn prelu(x: f32, s: f32) -> f32 {
    // Both sides computed, then selected: branch-free, so the loops vectorise (simd128 too).
    let scaled = x * s;
    if x > 0.0 {
        x
    } else {
        scaled
    }
}

impl TypedOp for ChannelPrelu {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].without_value()))
    }

    fn axes_mapping(
        &self,
        inputs: &[&TypedFact],
        outputs: &[&TypedFact],
    ) -> TractResult<AxesMapping> {
        AxesMapping::natural(inputs, outputs)
    }

    fn change_axes(
        &self,
        model: &TypedModel,
        node: &TypedNode,
        _io: InOut,
        change: &AxisOp,
    ) -> TractResult<Option<AxisChangeConsequence>> {
        let Some(axis) = change.transform_axis(self.axis) else {
            return Ok(None);
        };
        Ok(Some(AxisChangeConsequence::new(
            model,
            node,
            Some(Box::new(ChannelPrelu {
                axis,
                ..self.clone()
            })),
            change,
        )))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_prelu_matches_the_definition_on_both_layouts() {
        let slope = [0.25f32, -0.5, 2.0];
        let op = |axis| ChannelPrelu {
            axis,
            slope: Slope(slope.to_vec().into()),
        };
        let nchw: Vec<f32> = (0..2 * 3 * 4).map(|i| i as f32 - 11.5).collect();
        let run = |op: ChannelPrelu, shape: &[usize], data: &[f32]| -> Vec<f32> {
            let t = Tensor::from_shape(shape, data).unwrap();
            let out = op
                .eval(&EvalContext::out_of_plan(), tvec!(t.into_tvalue()))
                .unwrap();
            out[0]
                .try_as_plain_ram()
                .unwrap()
                .as_slice::<f32>()
                .unwrap()
                .to_vec()
        };
        let got = run(op(1), &[2, 3, 2, 2], &nchw);
        for (i, (&x, &y)) in nchw.iter().zip(&got).enumerate() {
            let c = (i / 4) % 3;
            assert_eq!(y, if x > 0.0 { x } else { x * slope[c] });
        }
        let got = run(op(3), &[2, 2, 2, 3], &nchw);
        for (i, (&x, &y)) in nchw.iter().zip(&got).enumerate() {
            assert_eq!(y, if x > 0.0 { x } else { x * slope[i % 3] });
        }
    }
}
