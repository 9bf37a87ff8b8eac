//! Compact weight storage for the browser download: an ONNX file whose large weight tensors are
//! stored as float16 or as per-channel int8, and widened back to f32 by `Cast` (and `Mul` by
//! the channel scales) nodes in front of the graph. tract folds those nodes into f32 constants
//! when it optimises the graph, so the plan that runs is an f32 plan (weight-only: activations
//! and arithmetic stay f32); only the stored bytes shrink.
//!
//! The rewrite is deterministic (no randomness, no calibration data, IEEE arithmetic only), so
//! the files derived from `../shared/models` are pinned by SHA-256 in `models/manifest.toml`
//! like the originals, and the weights still never enter the repository. The parity bars the
//! compact files must meet against the f32 ones are tested in `tests/integration/compact.rs`.

use std::collections::{HashMap, HashSet};

use half::f16;
use prost::Message;
use serde::{Deserialize, Serialize};
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, AttributeProto, GraphProto, ModelProto,
    NodeProto, TensorProto,
};

use crate::error::{Error, Result};

/// Tensors with at most this many elements stay as they are (biases, scales, small tables):
/// they weigh little and some are precision-critical.
const MIN_ELEMENTS: usize = 1024;

/// How a model's large weights are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightStorage {
    /// IEEE half precision (10-bit mantissa): about 1e-3 relative error per weight.
    F16,
    /// Symmetric int8 per output channel (scale = max |w| / 127): convolution and matrix
    /// weights only; other large tensors are stored as float16.
    Int8,
}

/// What to do to one model, as written in the manifest's `[[compact]]` entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompactSpec {
    pub weights: WeightStorage,
    /// Weight tensors kept in float16 under `Int8` (the layers int8 is too coarse for; found
    /// by measuring each layer's effect on the outputs).
    #[serde(default)]
    pub f16_tensors: Vec<String>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::ModelLoad {
        file: "compact".into(),
        message: message.into(),
    }
}

/// Rewrites ONNX bytes with their large weights stored as `spec` says.
pub fn compact(onnx: &[u8], spec: &CompactSpec) -> Result<Vec<u8>> {
    let mut model = ModelProto::decode(onnx).map_err(|e| bad(format!("not ONNX: {e}")))?;
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| bad("the model has no graph"))?;
    // Weights already stored as float16 (the `*_f16w` files) are widened first, so every
    // weight is seen once, as f32.
    widen(graph)?;
    let axes = channel_axes(graph);
    let keep_f16: HashSet<&str> = spec.f16_tensors.iter().map(String::as_str).collect();
    for name in &spec.f16_tensors {
        if !graph.initializer.iter().any(|t| &t.name == name) {
            return Err(bad(format!(
                "f16_tensors names {name}, not a weight of this model"
            )));
        }
    }

    let mut front = Vec::new();
    let mut initializers = Vec::with_capacity(graph.initializer.len());
    let mut replaced = HashSet::new();
    for t in std::mem::take(&mut graph.initializer) {
        let big = t.data_type == DataType::Float as i32 && elements(&t) > MIN_ELEMENTS;
        if !big {
            initializers.push(t);
            continue;
        }
        let values = f32_values(&t)?;
        let axis = axes.get(t.name.as_str()).copied();
        match (spec.weights, axis) {
            (WeightStorage::Int8, Some(axis)) if !keep_f16.contains(t.name.as_str()) => {
                let (q, scales) = quantize_per_channel(&values, &t.dims, axis)?;
                let q_name = format!("{}__int8", t.name);
                let s_name = format!("{}__scale", t.name);
                let f_name = format!("{}__widened", t.name);
                let mut scale_dims = vec![1i64; t.dims.len()];
                scale_dims[axis] = t.dims[axis];
                initializers.push(tensor(&q_name, &t.dims, DataType::Int8, q));
                initializers.push(tensor(
                    &s_name,
                    &scale_dims,
                    DataType::Float,
                    scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
                ));
                front.push(cast_to_f32(&q_name, &f_name));
                front.push(node("Mul", &[&f_name, &s_name], &t.name));
            }
            _ => {
                let h_name = format!("{}__f16", t.name);
                let bytes = values
                    .iter()
                    .flat_map(|v| f16::from_f32(*v).to_le_bytes())
                    .collect();
                initializers.push(tensor(&h_name, &t.dims, DataType::Float16, bytes));
                front.push(cast_to_f32(&h_name, &t.name));
            }
        }
        replaced.insert(t.name);
    }
    graph.initializer = initializers;
    // Old-opset files also list initializers as graph inputs; a replaced one is now computed.
    graph.input.retain(|i| !replaced.contains(&i.name));
    front.append(&mut graph.node);
    graph.node = front;
    Ok(model.encode_to_vec())
}

/// Widens stored weights back to f32 initializers before tract sees the graph: every
/// `Cast(to=FLOAT)` of a float16 or int8 initializer, and a `Mul` of such an int8 cast by an f32
/// initializer (the channel scales), becomes one f32 initializer named after the node's output.
/// The arithmetic is the one those nodes specify (one f32 multiply per weight), so the values
/// are exactly what tract would compute, but in a plain loop: letting tract fold the nodes costs
/// it 20-60 ms a model natively. Used on every file, original `*_f16w` ones included.
pub fn widen(graph: &mut GraphProto) -> Result<()> {
    let index: HashMap<String, usize> = graph
        .initializer
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    // Consumers per value, to find the Mul that is the only reader of an int8 cast.
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (ni, n) in graph.node.iter().enumerate() {
        for i in &n.input {
            readers.entry(i.as_str()).or_default().push(ni);
        }
    }
    let is_cast_to_float = |n: &NodeProto| {
        n.op_type == "Cast"
            && n.input.len() == 1
            && n.output.len() == 1
            && n.attribute
                .iter()
                .any(|a| a.name == "to" && a.i == DataType::Float as i64)
    };
    let mut drop_nodes = HashSet::new();
    let mut added = Vec::new();
    for (ni, n) in graph.node.iter().enumerate() {
        if !is_cast_to_float(n) {
            continue;
        }
        let Some(&ti) = index.get(&n.input[0]) else {
            continue;
        };
        let t = &graph.initializer[ti];
        if t.data_type == DataType::Float16 as i32 {
            let values = f32_values(t)?;
            added.push(f32_tensor(&n.output[0], &t.dims, &values));
            drop_nodes.insert(ni);
        } else if t.data_type == DataType::Int8 as i32 {
            // Cast(int8) → Mul(·, scales): fold both when the Mul is the cast's only reader
            // and its other input is an f32 initializer that broadcasts per channel.
            let Some([mi]) = readers.get(n.output[0].as_str()).map(Vec::as_slice) else {
                continue;
            };
            let m = &graph.node[*mi];
            let other = m.input.iter().find(|i| **i != n.output[0]);
            let scale = other
                .and_then(|o| index.get(o))
                .map(|&i| &graph.initializer[i]);
            let (Some(scale), "Mul", 2) = (scale, m.op_type.as_str(), m.input.len()) else {
                continue;
            };
            let Some(values) = dequantize(t, scale)? else {
                continue;
            };
            added.push(f32_tensor(&m.output[0], &t.dims, &values));
            drop_nodes.insert(ni);
            drop_nodes.insert(*mi);
        }
    }
    let mut ni = 0;
    graph.node.retain(|_| {
        ni += 1;
        !drop_nodes.contains(&(ni - 1))
    });
    // Initializers nothing reads any more (the stored forms) go; the widened ones join.
    let read: HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .chain(graph.output.iter().map(|o| o.name.as_str()))
        .collect();
    let kept: Vec<TensorProto> = std::mem::take(&mut graph.initializer)
        .into_iter()
        .filter(|t| read.contains(t.name.as_str()))
        .collect();
    graph.initializer = kept;
    graph.initializer.extend(added);
    Ok(())
}

/// q × scale with the scale broadcast along one axis of q (`None` when it does not broadcast
/// that way).
fn dequantize(q: &TensorProto, scale: &TensorProto) -> Result<Option<Vec<f32>>> {
    if scale.data_type != DataType::Float as i32 || scale.dims.len() != q.dims.len() {
        return Ok(None);
    }
    let axes: Vec<usize> = (0..q.dims.len()).filter(|&a| scale.dims[a] != 1).collect();
    let axis = match axes.as_slice() {
        [a] if scale.dims[*a] == q.dims[*a] => *a,
        _ => return Ok(None),
    };
    let scales = f32_values(scale)?;
    let bytes = &q.raw_data;
    if bytes.len() != elements(q) {
        return Err(bad(format!(
            "{}: {} bytes for dims {:?}",
            q.name,
            bytes.len(),
            q.dims
        )));
    }
    let inner: usize = q.dims[axis + 1..].iter().map(|&d| d as usize).product();
    let channels = q.dims[axis] as usize;
    Ok(Some(
        bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| (b as i8) as f32 * scales[(i / inner) % channels])
            .collect(),
    ))
}

fn f32_tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    tensor(
        name,
        dims,
        DataType::Float,
        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// The output-channel axis of each weight: Conv's kernel is [out, in, kh, kw]; MatMul's B is
/// [k, n]; Gemm's B is [k, n], or [n, k] with transB.
fn channel_axes(graph: &GraphProto) -> HashMap<String, usize> {
    let mut axes = HashMap::new();
    for n in &graph.node {
        let Some(w) = n.input.get(1) else { continue };
        let axis = match n.op_type.as_str() {
            "Conv" => 0,
            "MatMul" => 1,
            "Gemm" => {
                let trans_b = n.attribute.iter().any(|a| a.name == "transB" && a.i != 0);
                if trans_b {
                    0
                } else {
                    1
                }
            }
            _ => continue,
        };
        axes.insert(w.clone(), axis);
    }
    axes
}

fn elements(t: &TensorProto) -> usize {
    t.dims.iter().map(|&d| d.max(0) as usize).product()
}

/// A float or float16 initializer's values as f32.
fn f32_values(t: &TensorProto) -> Result<Vec<f32>> {
    let n = elements(t);
    let values: Vec<f32> = if t.data_type == DataType::Float as i32 {
        if t.raw_data.is_empty() {
            t.float_data.clone()
        } else {
            t.raw_data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }
    } else if t.data_type == DataType::Float16 as i32 {
        if t.raw_data.is_empty() {
            // The ONNX spec stores float16 bit patterns in int32_data when not raw.
            t.int32_data
                .iter()
                .map(|&b| f16::from_bits(b as u16).to_f32())
                .collect()
        } else {
            t.raw_data
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect()
        }
    } else {
        return Err(bad(format!("{}: not a float tensor", t.name)));
    };
    if values.len() != n {
        return Err(bad(format!(
            "{}: {} values for dims {:?}",
            t.name,
            values.len(),
            t.dims
        )));
    }
    Ok(values)
}

/// Symmetric int8 per channel along `axis`: q = round(w / s), s = max |w| / 127 (1 for an
/// all-zero channel). Returns the int8 bytes and one scale per channel.
fn quantize_per_channel(values: &[f32], dims: &[i64], axis: usize) -> Result<(Vec<u8>, Vec<f32>)> {
    let dims: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
    let channels = *dims.get(axis).ok_or_else(|| {
        bad(format!(
            "channel axis {axis} of a rank-{} weight",
            dims.len()
        ))
    })?;
    let inner: usize = dims[axis + 1..].iter().product();
    let channel_of = |i: usize| (i / inner) % channels;
    let mut amax = vec![0f32; channels];
    for (i, v) in values.iter().enumerate() {
        let c = channel_of(i);
        amax[c] = amax[c].max(v.abs());
    }
    let scales: Vec<f32> = amax
        .iter()
        .map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 })
        .collect();
    let q = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (v / scales[channel_of(i)])
                .round_ties_even()
                .clamp(-127.0, 127.0) as i8 as u8
        })
        .collect();
    Ok((q, scales))
}

fn tensor(name: &str, dims: &[i64], data_type: DataType, raw_data: Vec<u8>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: data_type as i32,
        raw_data,
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: format!("{output}__{op}"),
        input: inputs.iter().map(|s| (*s).into()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

fn cast_to_f32(input: &str, output: &str) -> NodeProto {
    let mut n = node("Cast", &[input], output);
    n.attribute.push(AttributeProto {
        name: "to".into(),
        r#type: AttributeType::Int as i32,
        i: DataType::Float as i64,
        ..Default::default()
    });
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_per_channel_keeps_each_channels_extreme_exactly() {
        // Two output channels of 2 values each, very different ranges.
        let w = [0.5, -0.25, 100.0, 37.0];
        let (q, s) = quantize_per_channel(&w, &[2, 2], 0).unwrap();
        assert_eq!(s, vec![0.5 / 127.0, 100.0 / 127.0]);
        let q: Vec<i8> = q.into_iter().map(|b| b as i8).collect();
        assert_eq!(q, vec![127, -64, 127, 47]);
        // A MatMul weight [k, n] quantises along its columns.
        let (_, s) = quantize_per_channel(&[1.0, 8.0, -2.0, 4.0], &[2, 2], 1).unwrap();
        assert_eq!(s, vec![2.0 / 127.0, 8.0 / 127.0]);
        // An all-zero channel gets scale 1, not a division by zero.
        let (q, s) = quantize_per_channel(&[0.0, 0.0], &[1, 2], 0).unwrap();
        assert_eq!((q, s), (vec![0, 0], vec![1.0]));
    }

    #[test]
    fn bytes_that_are_not_onnx_are_a_typed_error() {
        let spec = CompactSpec {
            weights: WeightStorage::F16,
            f16_tensors: vec![],
        };
        assert!(compact(b"\xff\xff\xff not a model", &spec).is_err());
    }
}
