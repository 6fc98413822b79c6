#!/usr/bin/python3
"""Generates small test images and what PIL makes of them, for test/test_image.c.

Writes test/fixtures/images/*.{png,jpg,ppm,pgm} and test/fixtures/images/reference.safetensors:
  decode/NAME          U8 [H, W, 3]  np.array(Image.open(NAME).convert("RGB")) (small images; every
                                     image's "WxH:FNV-1a 64" is in the metadata "decode_fnv")
  resize/K             U8 [h, w, 3]  that image .resize((w, h), resample) (HF's path: the RGB
                                     image, reducing_gap=None); not for every case (see case())
  oriented/NAME        U8 [H', W', 3] ImageOps.exif_transpose(Image.open(NAME)).convert("RGB")
                                     for the exif* images (what HF's load_image does first)
  pixels/K             F32 [3, h, w] then HF ViTImageProcessor's rescale and normalize:
                                     (x.astype(float64) * factor).astype(float32), then
                                     (x - mean32) / std32 in float32, channels first
The metadata key "cases" is a JSON list of {"key", "image", "width", "height", "resample",
"do_rescale", "rescale_factor", "do_normalize", "mean", "std", "resize_fnv", "pixels_fnv"}
(FNV-1a 64 of the U8 resize and of the little-endian F32 pixels); "images" lists the file names
and "oriented" the ones with an oriented/ reference.

PIL cannot write 16-bit colour, gray+alpha 16-bit, 2-bit gray or interlaced PNGs, nor PPM/PGM with
an unusual maxval, so those are written by the small writers below; PIL still decodes all of them
for the reference. Run with Debian's python3 (python3-pil, python3-numpy):
    /usr/bin/python3 tools/reference/make_image_fixtures.py
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(__file__))
from st_io import write_safetensors  # noqa: E402

import torch  # noqa: E402  (st_io writes torch tensors)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "images")
rng = np.random.default_rng(20240601)


# --- hand-written PNG and PNM writers -----------------------------------------------------------

def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _pack_rows(samples, bit_depth):
    """samples: [h, w, c] ints -> list of packed scanlines (no filter byte)."""
    rows = []
    for row in samples:
        flat = row.reshape(-1).astype(np.int64)
        if bit_depth == 16:
            rows.append(flat.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(flat.astype(np.uint8).tobytes())
        else:
            per = 8 // bit_depth
            out = bytearray((len(flat) + per - 1) // per)
            for i, v in enumerate(flat):
                out[i // per] |= int(v) << (8 - bit_depth * (i % per + 1))
            rows.append(bytes(out))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def write_png(path, samples, bit_depth, color_type, interlace=False, chunks=()):
    """samples: [h, w, c]; filter type 1 (Sub) on odd rows and 0 on even ones, to vary it."""
    h, w = samples.shape[:2]
    passes = [samples[sy::dy, sx::dx] for sx, sy, dx, dy in ADAM7] if interlace else [samples]
    raw = bytearray()
    bpp = max(1, samples.shape[2] * bit_depth // 8)
    for p in passes:
        if p.shape[0] == 0 or p.shape[1] == 0:
            continue
        for i, line in enumerate(_pack_rows(p, bit_depth)):
            if i % 2:
                sub = bytes((line[j] - (line[j - bpp] if j >= bpp else 0)) & 255
                            for j in range(len(line)))
                raw += b"\x01" + sub
            else:
                raw += b"\x00" + line
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    for kind, body in chunks:
        data += _chunk(kind, body)
    data += _chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def write_pnm(path, samples, maxval, comment=True):
    h, w, c = samples.shape
    magic = b"P6" if c == 3 else b"P5"
    head = magic + (b"\n# made by make_image_fixtures.py\n" if comment else b" ")
    head += b"%d %d\n%d\n" % (w, h, maxval)
    body = samples.astype(">u2" if maxval > 255 else np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(head + body)


# --- the images --------------------------------------------------------------------------------

def gradient(h, w):
    y, x = np.mgrid[0:h, 0:w]
    r = x * 255 // max(w - 1, 1)
    g = y * 255 // max(h - 1, 1)
    b = (x + y) * 255 // max(w + h - 2, 1)
    return np.stack([r, g, b], -1).astype(np.uint8)


def checker(h, w, cell):
    y, x = np.mgrid[0:h, 0:w]
    on = ((x // cell + y // cell) % 2).astype(np.uint8)
    img = np.zeros((h, w, 3), np.uint8)
    img[on == 1] = (250, 20, 120)
    img[on == 0] = (5, 230, 40)
    return img


def noise(h, w, c=3, hi=256, dtype=np.uint8):
    return rng.integers(0, hi, size=(h, w, c)).astype(dtype)


def make_images():
    os.makedirs(OUT, exist_ok=True)
    names = []

    def pil_save(name, im, **kw):
        im.save(os.path.join(OUT, name), **kw)
        names.append(name)

    def own(name, fn, *args, **kw):
        fn(os.path.join(OUT, name), *args, **kw)
        names.append(name)

    pil_save("gradient_17x11.png", Image.fromarray(gradient(11, 17)))
    pil_save("checker_16x12.png", Image.fromarray(checker(12, 16, 3)))
    pil_save("noise_13x9.png", Image.fromarray(noise(9, 13)))
    pil_save("noise_40x30.png", Image.fromarray((noise(30, 40) // 2 + gradient(30, 40) // 2)))
    pil_save("wide_1x7.png", Image.fromarray(noise(7, 1)))
    pil_save("tall_9x1.png", Image.fromarray(noise(1, 9)))
    pil_save("tiny_1x1.png", Image.fromarray(np.array([[[200, 100, 7]]], np.uint8)))
    rgba = np.concatenate([noise(6, 10), noise(6, 10, 1)], -1)
    pil_save("rgba_10x6.png", Image.fromarray(rgba, "RGBA"))
    pil_save("la_9x5.png", Image.fromarray(noise(5, 9, 2), "LA"))
    pil_save("gray_8x8.png", Image.fromarray(noise(8, 8, 1)[..., 0], "L"))
    pil_save("bilevel_11x3.png", Image.fromarray(noise(3, 11, 1, 2)[..., 0].astype(bool)))
    pal = Image.fromarray(noise(7, 12)).quantize(colors=16, method=Image.Quantize.MEDIANCUT)
    pil_save("palette_12x7.png", pal)
    pil_save("palette4_12x7.png", pal, bits=4)
    pal_t = pal.copy()
    pil_save("palette_trns_12x7.png", pal_t, transparency=bytes(range(0, 256, 16)))
    pil_save("rgb_trns_6x4.png", Image.fromarray(noise(4, 6, 3, 4) * 80), transparency=(80, 0, 160))
    g16 = np.array([[0, 1, 100, 254, 255, 256, 1000, 65535]], np.uint16).repeat(3, 0)
    pil_save("gray16_8x3.png", Image.fromarray(g16, "I;16"))
    own("rgb16_7x5.png", write_png, noise(5, 7, 3, 65536, np.uint32), 16, 2)
    own("rgba16_5x4.png", write_png, noise(4, 5, 4, 65536, np.uint32), 16, 6)
    own("la16_6x3.png", write_png, noise(3, 6, 2, 65536, np.uint32), 16, 4)
    own("gray2_10x3.png", write_png, noise(3, 10, 1, 4), 2, 0)
    own("gray4_interlaced_9x9.png", write_png, noise(9, 9, 1, 16), 4, 0, interlace=True)
    own("interlaced_rgb_11x10.png", write_png, noise(10, 11), 8, 2, interlace=True)
    own("interlaced_rgba_3x2.png", write_png, noise(2, 3, 4), 8, 6, interlace=True)
    own("interlaced_rgb16_9x6.png", write_png, noise(6, 9, 3, 65536, np.uint32), 16, 2, interlace=True)
    # a gAMA chunk must not change the pixels (PIL ignores it; libpng only applies it on request)
    own("gamma_rgb_5x5.png", write_png, noise(5, 5), 8, 2, chunks=[(b"gAMA", struct.pack(">I", 100000))])
    photo = (noise(13, 19) // 3 + gradient(13, 19) // 3 * 2)
    pil_save("baseline_19x13.jpg", Image.fromarray(photo), quality=90)
    pil_save("baseline444_19x13.jpg", Image.fromarray(photo), quality=95, subsampling=0)
    pil_save("progressive_21x14.jpg", Image.fromarray(gradient(14, 21)), quality=85, progressive=True)
    pil_save("gray_15x10.jpg", Image.fromarray(noise(10, 15, 1)[..., 0] // 2 + 60, "L"), quality=80)
    pil_save("gray_progressive_9x7.jpg", Image.fromarray(noise(7, 9, 1)[..., 0], "L"), progressive=True)
    pil_save("photo_32x24.jpg", Image.fromarray((noise(24, 32) // 4 + gradient(24, 32) // 4 * 3)))
    # gray with a tRNS colour (8-, 2- and 16-bit): PIL ignores it in convert("RGB")
    pil_save("gray_trns_6x4.png", Image.fromarray(noise(4, 6, 1, 3)[..., 0] * 100, "L"), transparency=100)
    own("gray2_trns_7x2.png", write_png, noise(2, 7, 1, 4), 2, 0, chunks=[(b"tRNS", b"\x00\x02")])
    own("gray16_trns_4x2.png", write_png, np.array([[[0], [200], [300], [65535]]] * 2, np.uint32), 16, 0,
        chunks=[(b"tRNS", b"\x01\x2c")])
    pal2 = Image.fromarray(noise(3, 9)).quantize(colors=4, method=Image.Quantize.MEDIANCUT)
    pil_save("palette2_9x3.png", pal2, bits=2)
    # EXIF orientation 2..8 (PNG eXIf chunks, JPEG APP1), read but not applied by decoding
    for o in range(2, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        pil_save("exif%d_5x3.png" % o, Image.fromarray(noise(3, 5)), exif=exif.tobytes())
    for o in (6, 8):
        exif = Image.Exif()
        exif[0x0112] = o
        exif[0x010F] = "attx"   # another IFD0 tag besides the orientation
        pil_save("exif%d_7x4.jpg" % o, Image.fromarray(gradient(4, 7)), exif=exif.tobytes())
    # a larger picture for ViT-sized resizes (checked by hash): smooth parts, edges, a noise patch
    y, x = np.mgrid[0:241, 0:319]
    big = np.stack([128 + 100 * np.sin(x / 17.0) * np.cos(y / 23.0), x * 255 // 318,
                    (x + 2 * y) % 256], -1).astype(np.uint8)
    big[50:120, 60:200] = (240, 30, 30)
    big[(x - 220) ** 2 + (y - 160) ** 2 < 50 ** 2] = (20, 200, 255)
    big[10:26, 250:266] = noise(16, 16)
    big[200:230, ::2] = 0
    pil_save("picture_319x241.png", Image.fromarray(big), optimize=True)
    pil_save("baseline422_19x13.jpg", Image.fromarray(photo), quality=90, subsampling=1)
    # refused by attx (no reference): a CMYK JPEG
    Image.fromarray(noise(4, 4, 4), "CMYK").save(os.path.join(OUT, "cmyk_4x4.jpg"))
    own("rgb_8x5.ppm", write_pnm, noise(5, 8), 255)
    own("gray_7x4.pgm", write_pnm, noise(4, 7, 1), 255, comment=False)
    own("gray_maxval100_6x2.pgm", write_pnm, noise(2, 6, 1, 101), 100)
    own("rgb_maxval1000_4x3.ppm", write_pnm, noise(3, 4, 3, 1001, np.uint32), 1000)
    own("gray_maxval1000_5x2.pgm", write_pnm, noise(2, 5, 1, 1001, np.uint32), 1000)
    own("gray16_5x2.pgm", write_pnm, np.array([[0, 1, 255, 256, 65535]] * 2, np.uint32)[..., None], 65535)
    return names


# --- references --------------------------------------------------------------------------------

FILTERS = {0: Image.Resampling.NEAREST, 1: Image.Resampling.LANCZOS,
           2: Image.Resampling.BILINEAR, 3: Image.Resampling.BICUBIC,
           4: Image.Resampling.BOX, 5: Image.Resampling.HAMMING}
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def fnv1a64(data):
    """FNV-1a, 64-bit, as a hex string (test/test_image.c computes the same)."""
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return "%016x" % h


def hf_pixels(u8, do_rescale, factor, do_normalize, mean, std):
    x = u8
    if do_rescale:
        x = (x.astype(np.float64) * factor).astype(np.float32)
    if do_normalize:
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    return np.ascontiguousarray(x.astype(np.float32).transpose(2, 0, 1))


def main():
    names = make_images()
    tensors, cases, decode_fnv = {}, [], {}
    for name in names:
        rgb = np.array(Image.open(os.path.join(OUT, name)).convert("RGB"))
        decode_fnv[name] = "%dx%d:%s" % (rgb.shape[1], rgb.shape[0], fnv1a64(rgb.tobytes()))
        if rgb.size <= 3 * 4096:   # the large picture is checked by its hash alone
            tensors["decode/" + name] = torch.from_numpy(rgb.copy())

    oriented = [n for n in names if n.startswith("exif")]
    for name in oriented:
        im = ImageOps.exif_transpose(Image.open(os.path.join(OUT, name)))
        tensors["oriented/" + name] = torch.from_numpy(np.array(im.convert("RGB")))

    def case(image, w, h, resample, do_rescale=True, factor=1 / 255, do_normalize=True,
             mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), store="all"):
        """store: "all" (resize/ and pixels/ tensors), "resize" (no pixels/: bicubic and
        nearest, whose normalisation is the same map as bilinear's), or "hash" (only the
        FNV-1a hashes of both, for the large outputs)."""
        im = Image.open(os.path.join(OUT, image)).convert("RGB")
        out = np.array(im.resize((w, h), resample=FILTERS[resample], reducing_gap=None))
        key = "%s/%dx%d/%d/%d" % (image, w, h, resample, len(cases))
        pixels = hf_pixels(out, do_rescale, factor, do_normalize, list(mean), list(std))
        if store == "all":
            tensors["resize/" + key] = torch.from_numpy(out.copy())
        if store in ("all", "pixels"):
            tensors["pixels/" + key] = torch.from_numpy(pixels)
        cases.append({"key": key, "image": image, "width": w, "height": h, "resample": resample,
                      "do_rescale": do_rescale, "rescale_factor": factor,
                      "do_normalize": do_normalize, "mean": list(mean), "std": list(std),
                      "resize_fnv": fnv1a64(out.tobytes()),
                      "pixels_fnv": fnv1a64(pixels.astype("<f4").tobytes())})

    for resample in (2, 3, 0):
        for image, sizes in [("noise_40x30.png", [(16, 16), (7, 5), (25, 12), (13, 20), (1, 1)]),
                             ("gradient_17x11.png", [(19, 14), (5, 9), (17, 11)]),
                             ("checker_16x12.png", [(9, 7), (20, 15)]),
                             ("wide_1x7.png", [(4, 4), (1, 3)]),
                             ("tall_9x1.png", [(3, 5)]),
                             ("tiny_1x1.png", [(3, 2)]),
                             ("noise_13x9.png", [(26, 5), (6, 18)]),
                             ("photo_32x24.jpg", [(16, 16)])]:
            for w, h in sizes:
                case(image, w, h, resample, store="all" if resample == 2 else "resize")
    for resample in (1, 4, 5):
        case("noise_40x30.png", 16, 16, resample, store="resize")
        case("noise_13x9.png", 20, 7, resample, store="resize")
    for resample in range(6):
        case("picture_319x241.png", 224, 224, resample, store="hash")
    case("picture_319x241.png", 384, 384, 2, store="hash")
    case("picture_319x241.png", 37, 23, 3, store="hash")
    case("picture_319x241.png", 32, 32, 2, mean=IMAGENET_MEAN, std=IMAGENET_STD, store="pixels")
    case("noise_40x30.png", 16, 16, 2, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    case("gradient_17x11.png", 8, 8, 3, factor=0.00392156862745098, mean=IMAGENET_MEAN,
         std=IMAGENET_STD)
    case("checker_16x12.png", 8, 6, 2, do_rescale=False, mean=(127.5, 127.5, 127.5),
         std=(127.5, 64.0, 1.0))
    case("rgba_10x6.png", 5, 3, 2, do_normalize=False)
    case("palette_trns_12x7.png", 4, 4, 3, do_rescale=False, do_normalize=False)

    meta = {"cases": json.dumps(cases), "images": json.dumps(names), "oriented": json.dumps(oriented),
            "decode_fnv": json.dumps(decode_fnv)}
    path = os.path.join(OUT, "reference.safetensors")
    write_safetensors(path, tensors, meta)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("wrote %d images, %d cases, %d tensors; %d bytes in all" %
          (len(names), len(cases), len(tensors), total))


if __name__ == "__main__":
    main()
