//! Upright frames from the container's display matrix.
//!
//! Phones store portrait clips as landscape pictures plus a display matrix that says "rotate
//! by 90° when showing". Decoders ignore it, so without this step a liveness model would see
//! faces lying on their side. The decision mirrors what the `ffmpeg` CLI's autorotate does
//! (multiples of 90°, with the mirrored variants), so frames match what players show.

use ffmpeg_next::codec::packet::side_data::Type as SideDataType;
use ffmpeg_next::format::stream::Stream;
use image::{imageops, RgbImage};

/// A lossless transform of the decoded picture (a multiple of 90°, possibly mirrored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Orientation {
    #[default]
    Identity,
    Rotate90,
    Rotate180,
    Rotate270,
    FlipHorizontal,
    FlipVertical,
    /// Mirror across the main diagonal: (x, y) -> (y, x).
    Transpose,
    /// Mirror across the other diagonal.
    AntiTranspose,
}

impl Orientation {
    /// The transform that makes `stream`'s frames upright; identity without a display matrix.
    pub(crate) fn of_stream(stream: &Stream<'_>) -> Self {
        stream
            .side_data()
            .find(|sd| sd.kind() == SideDataType::DisplayMatrix)
            .and_then(|sd| parse_matrix(sd.data()))
            .map_or(Self::Identity, |m| Self::from_display_matrix(&m))
    }

    /// Follows FFmpeg's `get_rotation` and autorotate filter choice (fftools, 6.1).
    pub(crate) fn from_display_matrix(m: &[i32; 9]) -> Self {
        let Some(theta) = clockwise_degrees(m) else {
            return Self::Identity;
        };
        let near = |angle: f64| (theta - angle).abs() < 1.0;
        if near(90.0) {
            if m[3] > 0 {
                Self::Transpose
            } else {
                Self::Rotate90
            }
        } else if near(180.0) {
            match (m[0] < 0, m[4] < 0) {
                (true, true) => Self::Rotate180,
                (true, false) => Self::FlipHorizontal,
                (false, true) => Self::FlipVertical,
                (false, false) => Self::Identity,
            }
        } else if near(270.0) {
            if m[3] < 0 {
                Self::AntiTranspose
            } else {
                Self::Rotate270
            }
        } else if near(0.0) || near(360.0) {
            if m[4] < 0 {
                Self::FlipVertical
            } else {
                Self::Identity
            }
        } else {
            // Arbitrary angles would need resampling and padding; no phone writes them.
            log::warn!(
                "video display matrix rotates by {theta:.1} degrees; frames left as decoded"
            );
            Self::Identity
        }
    }

    /// Whether the output swaps width and height.
    pub(crate) fn swaps_axes(self) -> bool {
        matches!(
            self,
            Self::Rotate90 | Self::Rotate270 | Self::Transpose | Self::AntiTranspose
        )
    }

    /// Clockwise rotation applied, in degrees (mirroring aside).
    pub(crate) fn degrees(self) -> u32 {
        match self {
            Self::Identity | Self::FlipVertical => 0,
            Self::Rotate90 | Self::Transpose => 90,
            Self::Rotate180 | Self::FlipHorizontal => 180,
            Self::Rotate270 | Self::AntiTranspose => 270,
        }
    }

    pub(crate) fn apply(self, img: RgbImage) -> RgbImage {
        match self {
            Self::Identity => img,
            Self::Rotate90 => imageops::rotate90(&img),
            Self::Rotate180 => imageops::rotate180(&img),
            Self::Rotate270 => imageops::rotate270(&img),
            Self::FlipHorizontal => imageops::flip_horizontal(&img),
            Self::FlipVertical => imageops::flip_vertical(&img),
            Self::Transpose => imageops::flip_horizontal(&imageops::rotate90(&img)),
            Self::AntiTranspose => imageops::flip_vertical(&imageops::rotate90(&img)),
        }
    }
}

/// The 3x3 matrix of 32-bit native-endian integers FFmpeg stores as side data.
fn parse_matrix(data: &[u8]) -> Option<[i32; 9]> {
    let bytes = data.get(..36)?;
    let mut m = [0i32; 9];
    for (v, chunk) in m.iter_mut().zip(bytes.chunks_exact(4)) {
        *v = i32::from_ne_bytes(chunk.try_into().ok()?);
    }
    Some(m)
}

/// `-round(av_display_rotation_get(m))` normalised to [0, 360): the clockwise rotation that
/// makes the picture upright. `None` for a degenerate matrix.
fn clockwise_degrees(m: &[i32; 9]) -> Option<f64> {
    // 16.16 fixed point.
    let fp = |v: i32| f64::from(v) / 65536.0;
    let scale0 = fp(m[0]).hypot(fp(m[3]));
    let scale1 = fp(m[1]).hypot(fp(m[4]));
    if scale0 == 0.0 || scale1 == 0.0 {
        return None;
    }
    let counter_clockwise = -(fp(m[1]) / scale1).atan2(fp(m[0]) / scale0).to_degrees();
    let theta = -counter_clockwise.round();
    Some(theta - 360.0 * (theta / 360.0 + 0.9 / 360.0).floor())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: i32 = 1 << 16;

    fn matrix(a: i32, b: i32, c: i32, d: i32) -> [i32; 9] {
        [a, b, 0, c, d, 0, 0, 0, 1 << 30]
    }

    #[test]
    fn phone_portrait_matrices_map_to_rotations() {
        // What the MP4 muxer writes for `rotate=90` (the usual portrait phone clip).
        assert_eq!(
            Orientation::from_display_matrix(&matrix(0, ONE, -ONE, 0)),
            Orientation::Rotate90
        );
        assert_eq!(
            Orientation::from_display_matrix(&matrix(0, -ONE, ONE, 0)),
            Orientation::Rotate270
        );
        assert_eq!(
            Orientation::from_display_matrix(&matrix(-ONE, 0, 0, -ONE)),
            Orientation::Rotate180
        );
        assert_eq!(
            Orientation::from_display_matrix(&matrix(ONE, 0, 0, ONE)),
            Orientation::Identity
        );
        assert_eq!(
            Orientation::from_display_matrix(&matrix(-ONE, 0, 0, ONE)),
            Orientation::FlipHorizontal
        );
        assert_eq!(
            Orientation::from_display_matrix(&[0; 9]),
            Orientation::Identity
        );
    }

    #[test]
    fn transforms_move_pixels_as_named() {
        // 2x1 image: red at (0,0), green at (1,0).
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([255, 0, 0]));
        img.put_pixel(1, 0, image::Rgb([0, 255, 0]));
        let t = Orientation::Transpose.apply(img.clone());
        assert_eq!((t.width(), t.height()), (1, 2));
        assert_eq!(t.get_pixel(0, 1).0, [0, 255, 0]); // (1,0) -> (0,1)
        let r = Orientation::Rotate90.apply(img.clone());
        assert_eq!(r.get_pixel(0, 0).0, [255, 0, 0]); // clockwise: left end goes to top
        let a = Orientation::AntiTranspose.apply(img);
        assert_eq!(a.get_pixel(0, 0).0, [0, 255, 0]); // (1,0) -> (0,0)
    }
}
