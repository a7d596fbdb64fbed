// Mattes read back from served images (canvas), and a picture of where two mattes differ.

/** Decode a Blob into an ImageBitmap-like <img> that is fully loaded. */
export async function loadImage(blob) {
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The alpha matte (Uint8 per pixel) of `img` drawn at width x height.
 * An opaque image is taken to be a bare matte (`channels=alpha`): its grey level is the alpha. */
export function matteOf(img, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const alpha = new Uint8ClampedArray(width * height);
  let opaque = true;
  for (let i = 0; i < alpha.length; i += 1) {
    alpha[i] = rgba[i * 4 + 3];
    if (alpha[i] !== 255) opaque = false;
  }
  if (opaque) for (let i = 0; i < alpha.length; i += 1) alpha[i] = rgba[i * 4];
  return alpha;
}

/** Paint |a - b| on `canvas`: magenta where A keeps more, green where B keeps more.
 * Returns the share of pixels that differ by more than 10%. */
export function paintDifference(canvas, a, b, width, height) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const out = ctx.createImageData(width, height);
  let differing = 0;
  for (let i = 0; i < a.length; i += 1) {
    const d = a[i] - b[i];
    const o = i * 4;
    // Square-root scale: a 5% difference is still visible, a full one is bright.
    const m = Math.round(255 * Math.sqrt(Math.abs(d) / 255));
    if (Math.abs(d) > 25) differing += 1;
    out.data[o] = d > 0 ? m : 0;
    out.data[o + 1] = d < 0 ? m : 0;
    out.data[o + 2] = d > 0 ? m : 0;
    out.data[o + 3] = 255;
  }
  ctx.putImageData(out, 0, 0);
  return differing / a.length;
}
