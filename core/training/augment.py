"""Training-time augmentation: make MNIST digits look like digits drawn on a canvas.

Even after ``canvas_to_mnist`` has cropped, scaled and centred a drawing, it
still differs from MNIST's digits: a little off-centre or off-size (the centre
of mass of a hand-drawn digit moves with every stroke), tilted or slanted,
squashed or stretched, and drawn with a bolder or thinner pen. Each digit of
each batch gets a random mix of those, so the network learns to ignore them.

Everything runs as TensorFlow ops inside the compiled training step: one
affine warp per batch (``ImageProjectiveTransformV3``) and two pooling ops for
the pen, about a sixth of a cnn-preset step (35 of 210 microseconds of CPU time
per digit, Intel Xeon, 2 cores); no input pipeline to keep fed. core.training
stops augmenting for the last sixth of a run's steps (``CLEAN_FINISH``).
"""

from __future__ import annotations

import math

# Random ranges, per digit. canvas_to_mnist already scales every digit into
# MNIST's 20-pixel box and centres it, so these only cover what is left over.
MAX_ROTATION_DEGREES = 12.0
MAX_SHEAR = 0.2  # horizontal slant: x moves by up to 0.2 * y
SCALE_RANGE = (0.85, 1.15)  # overall size
MAX_ASPECT_CHANGE = 0.1  # width / height changes by up to +-10%
MAX_SHIFT_PIXELS = 2.5
# Pen: -1 is one pixel thinner (2x2 erosion), +1 is two pixels bolder (3x3 dilation);
# values between blend the digit with its eroded or dilated version.
PEN_BLEND_RANGE = (-1.0, 1.0)

_CENTRE = 13.5  # the centre of a 28x28 image, in pixel coordinates


def make_augmenter(seed: int):
    """A function (B, 28, 28) float32 in [0, 1] -> (B, 28, 28) float32 in [0, 1], random per digit.

    The randomness comes from one ``tf.random.Generator`` seeded with ``seed``:
    the same seed gives the same sequence of augmented batches.
    """
    import tensorflow as tf

    generator = tf.random.Generator.from_seed(seed)

    def augment(images):
        batch = tf.shape(images)[0]
        images = _warp(images[..., None], _random_transforms(generator, batch))
        return _random_pen(images, generator.uniform([batch, 1, 1, 1], *PEN_BLEND_RANGE))[..., 0]

    return augment


def _random_transforms(generator, batch):
    """(B, 8) rows of the output -> input maps ImageProjectiveTransformV3 expects."""
    import tensorflow as tf

    def uniform(low, high):
        return generator.uniform([batch], low, high)

    angle = uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES) * (math.pi / 180)
    shear = uniform(-MAX_SHEAR, MAX_SHEAR)
    scale = uniform(*SCALE_RANGE)
    aspect = uniform(1 - MAX_ASPECT_CHANGE, 1 + MAX_ASPECT_CHANGE)
    shift_x = uniform(-MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS)
    shift_y = uniform(-MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS)
    # Forward map, about the image centre: scale (x by scale * aspect, y by
    # scale), then shear x by y, then rotate. Its 2x2 matrix [[a, b], [c, d]]:
    cos, sin = tf.cos(angle), tf.sin(angle)
    scale_x, scale_y = scale * aspect, scale
    a = cos * scale_x
    b = cos * shear * scale_y - sin * scale_y
    c = sin * scale_x
    d = sin * shear * scale_y + cos * scale_y
    # The op wants the inverse, output pixel -> input pixel:
    # input = M (output - centre - shift) + centre, with M = inverse([[a, b], [c, d]]).
    determinant = a * d - b * c
    m00, m01, m10, m11 = d / determinant, -b / determinant, -c / determinant, a / determinant
    offset_x = _CENTRE + shift_x
    offset_y = _CENTRE + shift_y
    zeros = tf.zeros_like(angle)
    return tf.stack([
        m00, m01, _CENTRE - m00 * offset_x - m01 * offset_y,
        m10, m11, _CENTRE - m10 * offset_x - m11 * offset_y,
        zeros, zeros,
    ], axis=1)


def _warp(images, transforms):
    """(B, 28, 28, 1) images, (B, 8) transforms -> warped images, bilinear, black outside."""
    import tensorflow as tf

    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT",
    )


def _random_pen(images, pen):
    """Thinner strokes where ``pen`` < 0, bolder where > 0; ``pen`` is (B, 1, 1, 1) in [-1, 1]."""
    import tensorflow as tf

    bolder = tf.nn.max_pool2d(images, 3, 1, "SAME")
    thinner = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
    target = tf.where(pen > 0, bolder, thinner)
    return images + tf.abs(pen) * (target - images)
