//! PReLU as `max(x, 0) + alpha · min(x, 0)`.
//!
//! tract-onnx expands ONNX `PRelu` into `Iff(0 < x, x, x · alpha)`: a comparison into a
//! boolean tensor, a multiplication and a select, three full passes of which only the first
//! two have vectorised kernels, and the slope is reshaped with an axis insertion that leaves
//! non-natural strides, which sends the multiplication down tract's generic broadcasting path.
//! MiniFASNet and the face mesh apply PReLU after nearly every convolution, so that path was a
//! third of MiniFASNet's time in the browser (profile in README "Performance"). This expansion
//! uses tract's by-scalar min/max kernels (SIMD in the wasm build too) and a slope tensor built
//! in natural layout, so the per-channel multiply takes the by-scalar kernel as well. Same
//! arithmetic: for x ≥ 0 the result is x + alpha·0, for x < 0 it is 0 + alpha·x.

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
