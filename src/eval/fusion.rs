//! Calibrated fusion of anti-spoofing scores: a class-balanced, L2-regularised logistic
//! regression on the models' logits, its strength chosen by grouped cross-validation on the
//! fitting part only ([`super::split`]).
//!
//! Why logistic regression: two or three inputs and a few dozen attacks leave room for nothing
//! with more parameters, and its output is a calibrated probability whose 0.5 means equal
//! evidence for both classes. Class-balanced weights keep the many bona fide samples from
//! drowning the few attacks. Fitted by Newton's method (a 3×3 or 4×4 system per step).

/// Probabilities are clamped to [1e-6, 1 − 1e-6] before the logit, so a model's 0 or 1 stays
/// finite (±13.8).
pub fn logit(p: f32) -> f64 {
    let p = f64::from(p).clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A fitted model: `P(bona fide) = σ(bias + Σ weights·x)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Logistic {
    pub weights: Vec<f64>,
    pub bias: f64,
    /// The L2 strength it was fitted with.
    pub lambda: f64,
}

impl Logistic {
    /// The bona fide probability of one feature vector.
    pub fn prob(&self, x: &[f64]) -> f64 {
        sigmoid(self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>())
    }

    /// Fits on `x` (rows of equal length) with labels `y` (true = bona fide). Returns `None`
    /// when either class is missing or the rows are ragged.
    pub fn fit(x: &[Vec<f64>], y: &[bool], lambda: f64) -> Option<Self> {
        let dims = x.first()?.len();
        if x.len() != y.len() || x.iter().any(|r| r.len() != dims) {
            return None;
        }
        let pos = y.iter().filter(|b| **b).count();
        let neg = y.len() - pos;
        if pos == 0 || neg == 0 {
            return None;
        }
        // Each class weighs half of the total.
        let (wp, wn) = (
            y.len() as f64 / (2.0 * pos as f64),
            y.len() as f64 / (2.0 * neg as f64),
        );
        let n = dims + 1; // the bias is the last coefficient, not regularised
        let mut beta = vec![0.0; n];
        for _ in 0..100 {
            let mut grad = vec![0.0; n];
            let mut hess = vec![vec![0.0; n]; n];
            for (row, &label) in x.iter().zip(y) {
                let z = beta[dims] + row.iter().zip(&beta).map(|(v, b)| v * b).sum::<f64>();
                let p = sigmoid(z);
                let c = if label { wp } else { wn };
                let r = c * (p - if label { 1.0 } else { 0.0 });
                let h = c * p * (1.0 - p);
                for i in 0..n {
                    let xi = if i == dims { 1.0 } else { row[i] };
                    grad[i] += r * xi;
                    for j in 0..n {
                        let xj = if j == dims { 1.0 } else { row[j] };
                        hess[i][j] += h * xi * xj;
                    }
                }
            }
            for i in 0..dims {
                grad[i] += lambda * beta[i];
                hess[i][i] += lambda;
            }
            hess[dims][dims] += 1e-9;
            let step = solve(hess, grad)?;
            let mut largest = 0.0f64;
            for (b, s) in beta.iter_mut().zip(&step) {
                *b -= s;
                largest = largest.max(s.abs());
            }
            if largest < 1e-10 {
                break;
            }
        }
        if beta.iter().any(|b| !b.is_finite()) {
            return None;
        }
        Some(Logistic {
            bias: beta[dims],
            weights: beta[..dims].to_vec(),
            lambda,
        })
    }
}

/// Gaussian elimination with partial pivoting; `None` for a singular system.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for (offset, row) in lower.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * p;
            }
            b[col + 1 + offset] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// The candidate regularisation strengths.
pub const LAMBDAS: [f64; 6] = [0.01, 0.1, 1.0, 3.0, 10.0, 30.0];

/// Grouped k-fold cross-validation: for each λ, fits on all folds but one and scores the left-
/// out fold; picks the λ with the lowest class-balanced log loss. Returns the fitted model on
/// all of `x` with that λ, and the out-of-fold probabilities of that λ (each sample scored by a
/// model that never saw its group).
pub fn cross_validate(x: &[Vec<f64>], y: &[bool], folds: &[usize]) -> Option<(Logistic, Vec<f64>)> {
    let k = folds.iter().copied().max()? + 1;
    let pos = y.iter().filter(|b| **b).count().max(1) as f64;
    let neg = (y.len() as f64 - pos).max(1.0);
    let mut best: Option<(f64, f64, Vec<f64>)> = None;
    for &lambda in &LAMBDAS {
        let mut oof = vec![f64::NAN; x.len()];
        for f in 0..k {
            let (tx, ty): (Vec<_>, Vec<_>) = x
                .iter()
                .zip(y)
                .zip(folds)
                .filter(|(_, fold)| **fold != f)
                .map(|((r, l), _)| (r.clone(), *l))
                .unzip();
            let Some(model) = Logistic::fit(&tx, &ty, lambda) else {
                continue;
            };
            for i in (0..x.len()).filter(|i| folds[*i] == f) {
                oof[i] = model.prob(&x[i]);
            }
        }
        if oof.iter().any(|p| p.is_nan()) {
            continue; // a fold without both classes to fit on
        }
        let loss: f64 = oof
            .iter()
            .zip(y)
            .map(|(p, &l)| {
                let p = p.clamp(1e-9, 1.0 - 1e-9);
                if l {
                    -p.ln() / pos
                } else {
                    -(1.0 - p).ln() / neg
                }
            })
            .sum();
        if best.as_ref().is_none_or(|(b, _, _)| loss < *b) {
            best = Some((loss, lambda, oof));
        }
    }
    let (_, lambda, oof) = best?;
    Some((Logistic::fit(x, y, lambda)?, oof))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_one_dimensional_data_puts_the_boundary_between_the_classes() {
        let x: Vec<Vec<f64>> = [-3.0, -2.0, -1.5, 1.0, 2.0, 2.5, 3.0]
            .iter()
            .map(|v| vec![*v])
            .collect();
        let y = [false, false, false, true, true, true, true];
        let m = Logistic::fit(&x, &y, 1.0).unwrap();
        assert!(m.weights[0] > 0.0);
        assert!(m.prob(&[-2.0]) < 0.2 && m.prob(&[2.0]) > 0.8, "{m:?}");
        // The boundary lies between the classes' inner points.
        let boundary = -m.bias / m.weights[0];
        assert!((-1.5..1.0).contains(&boundary), "{boundary}");
    }

    #[test]
    fn an_uninformative_feature_gets_little_weight() {
        // Feature 0 decides; feature 1 is the same for both classes.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let live = i % 2 == 0;
            let noise = [(i * 7 % 11) as f64 / 5.0 - 1.0, 0.0][0];
            x.push(vec![if live { 2.0 } else { -2.0 } + noise * 0.5, noise]);
            y.push(live);
        }
        let m = Logistic::fit(&x, &y, 1.0).unwrap();
        assert!(m.weights[0].abs() > 5.0 * m.weights[1].abs(), "{m:?}");
    }

    #[test]
    fn fitting_needs_both_classes_and_equal_rows() {
        assert!(Logistic::fit(&[vec![1.0], vec![2.0]], &[true, true], 1.0).is_none());
        assert!(Logistic::fit(&[vec![1.0], vec![2.0, 3.0]], &[true, false], 1.0).is_none());
        assert!(Logistic::fit(&[], &[], 1.0).is_none());
    }

    #[test]
    fn cross_validation_scores_every_sample_out_of_fold() {
        let x: Vec<Vec<f64>> = (0..30).map(|i| vec![i as f64 / 3.0 - 5.0]).collect();
        let y: Vec<bool> = (0..30).map(|i| i >= 12).collect();
        let folds: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let (m, oof) = cross_validate(&x, &y, &folds).unwrap();
        assert_eq!(oof.len(), 30);
        assert!(oof.iter().all(|p| (0.0..=1.0).contains(p)));
        assert!(oof[0] < 0.5 && oof[29] > 0.5);
        assert!(LAMBDAS.contains(&m.lambda));
    }

    #[test]
    fn logits_stay_finite() {
        assert!(logit(0.0).is_finite() && logit(1.0).is_finite());
        assert!((logit(0.5)).abs() < 1e-12);
    }
}
