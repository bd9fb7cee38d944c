# SPDX-License-Identifier: GPL-3.0-or-later
"""The hostile corpus: damaged and hostile DICOM input, one kind at a time, made deterministically
from a phantom series (spinemet-phantom) with pydicom, hand-written bytes and DCMTK's and
OpenJPEG's command-line encoders. Nothing is downloaded and nothing is committed: a test writes the
kind it needs into a temporary folder and deletes it afterwards.

    KINDS                           name -> Kind(name, expected, what, cli_only, build)
    write_kind(name, folder, base)  writes kind `name` into `folder` from the phantom series in
                                    `base`; returns a KindInput: the paths to hand to the analysis
                                    and any extra command-line arguments

`expected` is the outcome SpineMet must give: a reason code of docs/errors.md (the analysis ends
with exit status 2 and `spinemet: error [code]: ...`), "ok" (a valid result, exit 0) or "usage"
(exit 1). `cli_only` marks kinds that only exist on a file system or a command line (symbolic
links, unreadable files, output paths, flags): a test through Orthanc leaves them out.

Run as a program it lists the kinds (`--list`, `--table`) or writes some (`--base B --out DIR`).
"""

import copy
import io
import os
import shutil
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from typing import Callable, List

try:
    import numpy
    import pydicom
    import pydicom.config
    import pydicom.datadict
    import pydicom.encaps
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element
    from pydicom.tag import Tag
    from pydicom.uid import generate_uid
except ImportError:     # --list needs none of it
    pydicom = None

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
RLE = "1.2.840.10008.1.2.5"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
JPEG_2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
# A UUID-derived root (2.25): no organisation's root is implied.
IMPLEMENTATION_UID = "2.25.160790134961548702212871862432617430311"
UID_ROOT = "2.25."
LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}


@dataclass
class KindInput:
    paths: List[str]
    args: List[str] = field(default_factory=list)


@dataclass
class Kind:
    name: str
    expected: str
    what: str
    cli_only: bool
    build: Callable
    says: str = ""       # words the message must contain (what is wrong), when the code is not enough


KINDS = {}


def kind(name, expected, what, cli_only=False, says=""):
    def register(build):
        assert name not in KINDS, name
        KINDS[name] = Kind(name, expected, what, cli_only, build, says)
        return build
    return register


# ---------------------------------------------------------------------------------------------
# Encoding by hand: pydicom writes what it is given, these helpers write what a hostile file says.

def uid(seed):
    """A deterministic UID for `seed` (the corpus must be the same on every run)."""
    return UID_ROOT + str(zlib.crc32(seed.encode()) * 10 ** 9 + len(seed))


def even(data, pad=b"\0"):
    return data + pad if len(data) % 2 else data


def element(tag, vr, value, implicit=False, little=True, length=None):
    """One data element as bytes; `length` overrides the length field (a lying length)."""
    group, number = tag >> 16, tag & 0xFFFF
    order = "<" if little else ">"
    size = len(value) if length is None else length
    if implicit:
        return struct.pack(order + "HHI", group, number, size) + value
    if vr in LONG_VRS:
        return struct.pack(order + "HH", group, number) + vr.encode() + b"\0\0" + struct.pack(order + "I", size) + value
    return struct.pack(order + "HH", group, number) + vr.encode() + struct.pack(order + "H", size) + value


def text(value):
    return even(value.encode("latin-1"), b" ")


def uid_value(value):
    return even(value.encode(), b"\0")


def syntax_flags(ts):
    if ts == IMPLICIT:
        return True, True
    if ts == BIG_ENDIAN:
        return False, False
    return False, True


class Raw:
    """Bytes that replace an element of the dataset, written as they are."""

    def __init__(self, data):
        self.data = data


def encode_dataset(ds, ts, overrides=None):
    """The dataset in syntax `ts`; `overrides` maps a tag to Raw bytes, to (vr, value bytes[,
    length]) or to None (left out). Elements stay in tag order whatever is replaced."""
    implicit, little = syntax_flags(ts)
    fp = DicomBytesIO()
    fp.is_implicit_VR = implicit
    fp.is_little_endian = little
    overrides = {int(Tag(k)): v for k, v in (overrides or {}).items()}
    for tag in sorted(set(int(t) for t in ds.keys()) | set(overrides)):
        if tag in overrides:
            replacement = overrides[tag]
            if replacement is None:
                continue
            if isinstance(replacement, Raw):
                fp.write(replacement.data)
            else:
                vr, value = replacement[0], replacement[1]
                length = replacement[2] if len(replacement) > 2 else None
                fp.write(element(tag, vr, value, implicit, little, length))
        else:
            write_data_element(fp, ds[tag])
    return fp.getvalue()


def meta(sop_class, sop_instance, ts):
    body = (element(0x00020001, "OB", b"\0\1") + element(0x00020002, "UI", uid_value(sop_class)) +
            element(0x00020003, "UI", uid_value(sop_instance)) + element(0x00020010, "UI", uid_value(ts)) +
            element(0x00020012, "UI", uid_value(IMPLEMENTATION_UID)))
    return element(0x00020000, "UL", struct.pack("<I", len(body))) + body


def part10(ds, ts=EXPLICIT, overrides=None, meta_ts=None, dataset_bytes=None):
    """A DICOM file: preamble, DICM, meta group (saying `meta_ts`, by default `ts`), dataset."""
    data = encode_dataset(ds, ts, overrides) if dataset_bytes is None else dataset_bytes
    if (meta_ts or ts) == DEFLATED and meta_ts is None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = compressor.compress(data) + compressor.flush()
    return (b"\0" * 128 + b"DICM" + meta(str(ds.SOPClassUID), str(ds.SOPInstanceUID), meta_ts or ts) + data)


def nested_sequences(depth, implicit=False, defined=False):
    """A private sequence (0009,1001) holding one item holding the same sequence, `depth` deep."""
    if defined:
        # From the inside out each level adds an item header (8 bytes) and a sequence header.
        sequence_header = 8 if implicit else 12
        lengths, inner = [], 0
        for _ in range(depth):
            lengths.append(inner)
            inner += 8 + sequence_header
        out = io.BytesIO()
        for item_length in reversed(lengths):
            out.write(element(0x00091001, "SQ", b"", implicit, length=item_length + 8))
            out.write(struct.pack("<HHI", 0xFFFE, 0xE000, item_length))
        return out.getvalue()
    opening = element(0x00091001, "SQ", b"", implicit, length=0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    closing = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return opening * depth + closing * depth


# ---------------------------------------------------------------------------------------------
# The context a kind is written in.

class Context:
    def __init__(self, folder, base):
        self.folder = folder
        self.base_folder = base
        self.scratch = os.path.join(folder, ".scratch")
        self.inputs = None
        self.args = []
        os.makedirs(folder, exist_ok=True)

    def slices(self):
        """Fresh copies of the phantom's instances, caudal first."""
        files = sorted(f for f in os.listdir(self.base_folder) if f.endswith(".dcm"))
        datasets = [pydicom.dcmread(os.path.join(self.base_folder, f)) for f in files]
        datasets.sort(key=lambda d: float(d.ImagePositionPatient[2]))
        return datasets

    def path(self, name):
        return os.path.join(self.folder, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def save(self, name, ds, ts=EXPLICIT, **options):
        return self.write(name, part10(ds, ts, **options))

    def save_series(self, datasets, ts=EXPLICIT, prefix="CT", overrides=None):
        for i, ds in enumerate(datasets):
            self.save("%s%04d.dcm" % (prefix, i + 1), ds, ts, overrides=overrides)

    def encoded_with(self, tool, *options):
        """The phantom's instances re-encoded by a DCMTK command-line tool, read back."""
        os.makedirs(self.scratch, exist_ok=True)
        result = []
        for i, ds in enumerate(self.slices()):
            source = os.path.join(self.scratch, "in%04d.dcm" % i)
            target = os.path.join(self.scratch, "out%04d.dcm" % i)
            with open(source, "wb") as f:
                f.write(part10(ds))
            subprocess.run([tool, *options, source, target], check=True, capture_output=True, timeout=60)
            result.append(pydicom.dcmread(target))
        return result

    def jpeg2000(self, ds, options=()):
        """The stored values of `ds` as a JPEG 2000 codestream made by opj_compress."""
        os.makedirs(self.scratch, exist_ok=True)
        raw = os.path.join(self.scratch, "slice.rawl")
        codestream = os.path.join(self.scratch, "slice.j2k")
        with open(raw, "wb") as f:
            f.write(ds.pixel_array.astype("<u2").tobytes())
        subprocess.run(["opj_compress", "-i", raw, "-o", codestream, "-F",
                        "%d,%d,1,%d,u" % (ds.Columns, ds.Rows, ds.BitsStored), *options],
                       check=True, capture_output=True, timeout=60)
        with open(codestream, "rb") as f:
            return f.read()

    def finish(self):
        shutil.rmtree(self.scratch, ignore_errors=True)
        return KindInput(self.inputs or [self.folder], self.args)


def encapsulated(ds, frame, ts):
    ds.PixelData = pydicom.encaps.encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return ds


def first_frame(ds):
    return next(pydicom.encaps.generate_pixel_data_frame(ds.PixelData))


def set_text(keyword, value, vr=None):
    """`value` written exactly as given (numbers as text), whatever the element's VR is."""
    tag = int(Tag(keyword))
    return {tag: (vr or pydicom.datadict.dictionary_VR(tag), text(value))}


def write_kind(name, folder, base):
    """Writes kind `name` into `folder` (created) from the phantom series in folder `base`."""
    if pydicom is None:
        raise RuntimeError("the hostile corpus needs pydicom and numpy (/usr/bin/python3)")
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
    context = Context(folder, base)
    KINDS[name].build(context)
    return context.finish()


# ---------------------------------------------------------------------------------------------
# The kinds. Each writes a whole series (the phantom's 14 slices of 256 x 256) unless the damage
# itself is about size; the damaged instance is one in the middle unless said otherwise.

MIDDLE = 7
DEEP = 50000      # DCMTK 3.6.7's reader overflows an 8 MB stack well before that


@kind("clean", "ok", "the undamaged phantom series (the control)")
def _(c):
    c.save_series(c.slices())


# --- whole files: truncation, not DICOM, empty ----------------------------------------------

@kind("truncated-in-meta", "unreadable-file", "one file cut inside its meta header")
def _(c):
    c.save_series(c.slices())
    c.write("CT%04d.dcm" % MIDDLE, open(c.path("CT%04d.dcm" % MIDDLE), "rb").read()[:200])


@kind("truncated-in-header", "unreadable-file", "one file cut inside its dataset, before the pixel data")
def _(c):
    c.save_series(c.slices())
    c.write("CT%04d.dcm" % MIDDLE, open(c.path("CT%04d.dcm" % MIDDLE), "rb").read()[:900])


@kind("truncated-in-pixel-data", "unreadable-file", "one file cut in the middle of its pixel data")
def _(c):
    c.save_series(c.slices())
    data = open(c.path("CT%04d.dcm" % MIDDLE), "rb").read()
    c.write("CT%04d.dcm" % MIDDLE, data[:len(data) - 40000])


@kind("truncated-all", "unreadable-file", "every file cut to half its size")
def _(c):
    for i, ds in enumerate(c.slices()):
        data = part10(ds)
        c.write("CT%04d.dcm" % (i + 1), data[:len(data) // 2])


@kind("preamble-only", "unreadable-file", "files of a preamble and DICM and nothing else, named explicitly")
def _(c):
    c.inputs = [c.write("CT%04d.dcm" % i, b"\0" * 128 + b"DICM") for i in range(1, 4)]


@kind("garbage-after-prefix", "unreadable-file", "the DICM prefix followed by random bytes")
def _(c):
    c.save_series(c.slices())
    c.write("CT%04d.dcm" % MIDDLE, b"\0" * 128 + b"DICM" + numpy.random.default_rng(1).bytes(5000))


@kind("empty-file-named", "unreadable-file", "an empty file named on the command line")
def _(c):
    c.inputs = [c.write("CT0001.dcm", b"")]


@kind("text-file-named", "unreadable-file", "a text file with a DICOM name, named on the command line")
def _(c):
    c.inputs = [c.write("CT0001.dcm", b"this is not DICOM\n" * 20)]


@kind("no-meta-header", "ok", "bare datasets without preamble or meta header, named explicitly")
def _(c):
    c.inputs = [c.write("CT%04d.dcm" % (i + 1), encode_dataset(ds, EXPLICIT)) for i, ds in enumerate(c.slices())]


# --- transfer syntaxes: unknown, lying, mixed ------------------------------------------------

@kind("syntax-unknown", "unsupported-transfer-syntax", "a transfer syntax UID nobody defined")
def _(c):
    c.save_series(c.slices())
    ds = c.slices()[MIDDLE]
    c.write("CT%04d.dcm" % (MIDDLE + 1), part10(ds, EXPLICIT, meta_ts="1.2.3.4.5.6.7"))


@kind("syntax-htj2k", "unsupported-transfer-syntax", "High-Throughput JPEG 2000 (newer than DCMTK 3.6.7)")
def _(c):
    for i, ds in enumerate(c.slices()):
        c.write("CT%04d.dcm" % (i + 1), part10(ds, EXPLICIT, meta_ts="1.2.840.10008.1.2.4.201"))


@kind("syntax-says-big-endian", "unreadable-file", "little endian data under a big endian meta header")
def _(c):
    for i, ds in enumerate(c.slices()):
        c.write("CT%04d.dcm" % (i + 1), part10(ds, EXPLICIT, meta_ts=BIG_ENDIAN))


@kind("syntax-says-implicit", "unreadable-file", "explicit VR data under an implicit VR meta header")
def _(c):
    for i, ds in enumerate(c.slices()):
        c.write("CT%04d.dcm" % (i + 1), part10(ds, EXPLICIT, meta_ts=IMPLICIT))


@kind("syntax-says-deflated", "unreadable-file", "plain data under a deflated meta header")
def _(c):
    for i, ds in enumerate(c.slices()):
        c.write("CT%04d.dcm" % (i + 1), part10(ds, EXPLICIT, meta_ts=DEFLATED, dataset_bytes=encode_dataset(ds, EXPLICIT)))


@kind("syntax-says-jpeg-native-data", "unreadable-file", "native pixel data under a JPEG Lossless meta header")
def _(c):
    for i, ds in enumerate(c.slices()):
        c.write("CT%04d.dcm" % (i + 1), part10(ds, EXPLICIT, meta_ts=JPEG_LOSSLESS_SV1))


@kind("syntax-says-native-encapsulated-data", "broken-pixel-data",
      "JPEG-LS fragments under an explicit little endian meta header")
def _(c):
    for i, ds in enumerate(c.encoded_with("dcmcjpls")):
        c.write("CT%04d.dcm" % (i + 1), part10(ds, JPEG_LS_LOSSLESS, meta_ts=EXPLICIT))


@kind("syntax-jpeg-is-jpeg-ls", "broken-pixel-data", "a JPEG-LS codestream labelled JPEG Lossless")
def _(c):
    for i, ds in enumerate(c.encoded_with("dcmcjpls")):
        c.write("CT%04d.dcm" % (i + 1), part10(ds, JPEG_LOSSLESS_SV1))


@kind("syntax-mixed", "ok", "every other slice RLE, the rest implicit, big endian or deflated")
def _(c):
    others = [IMPLICIT, BIG_ENDIAN, DEFLATED, EXPLICIT]
    for i, (plain, rle) in enumerate(zip(c.slices(), c.encoded_with("dcmcrle"))):
        if i % 2:
            c.write("CT%04d.dcm" % (i + 1), part10(rle, RLE))
        else:
            c.write("CT%04d.dcm" % (i + 1), part10(plain, others[(i // 2) % len(others)]))


# --- lying lengths ---------------------------------------------------------------------------

@kind("length-beyond-file", "unreadable-file", "Patient Comments claims 2 GB in a 130 KB file")
def _(c):
    c.save_series(c.slices())
    ds = c.slices()[MIDDLE]
    c.write("CT%04d.dcm" % (MIDDLE + 1), part10(ds, overrides={0x00104000: ("UT", b"", 0x7FFFFFF0)}))


@kind("length-pixel-data-beyond-file", "unreadable-file", "Pixel Data claims 4 GB - 2 bytes", says="(7FE0,0010) declares")
def _(c):
    c.save_series(c.slices())
    ds = c.slices()[MIDDLE]
    c.write("CT%04d.dcm" % (MIDDLE + 1), part10(ds, overrides={0x7FE00010: ("OW", bytes(ds.PixelData), 0xFFFFFFFE)}))


@kind("length-pixel-data-short", "unreadable-file",
      "Pixel Data's length says half its bytes; the rest follows as trailing garbage")
def _(c):
    c.save_series(c.slices())
    ds = c.slices()[MIDDLE]
    pixels = bytes(ds.PixelData)
    c.write("CT%04d.dcm" % (MIDDLE + 1), part10(ds, overrides={0x7FE00010: ("OW", pixels, len(pixels) // 2)}))


@kind("length-odd", "ok", "a text element of odd length (DICOM wants even ones)")
def _(c):
    c.save_series(c.slices(), overrides={0x00081030: ("LO", b"ODD")})


@kind("length-meta-group-lies", "unreadable-file", "a meta group length far beyond the meta group")
def _(c):
    for i, ds in enumerate(c.slices()):
        data = bytearray(part10(ds))
        struct.pack_into("<I", data, 132 + 8, 0x00FFFFFF)
        c.write("CT%04d.dcm" % (i + 1), bytes(data))


@kind("length-sequence-beyond-file", "unreadable-file", "a defined-length sequence longer than the file")
def _(c):
    c.save_series(c.slices())
    ds = c.slices()[MIDDLE]
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 0) 
    c.write("CT%04d.dcm" % (MIDDLE + 1), part10(ds, overrides={0x00081140: ("SQ", item, 0x10000000)}))


@kind("length-undefined-on-text", "unreadable-file", "an undefined length on a text element")
def _(c):
    c.save_series(c.slices())
    ds = c.slices()[MIDDLE]
    c.write("CT%04d.dcm" % (MIDDLE + 1), part10(ds, overrides={0x00104000: ("UT", b"abc ", 0xFFFFFFFF)}))


# --- geometry: missing, contradictory, not a number, out of range ----------------------------

def damaged_middle(c, overrides=None, change=None, every=False):
    datasets = c.slices()
    for i, ds in enumerate(datasets):
        if every or i == MIDDLE:
            if change:
                change(ds)
            c.save("CT%04d.dcm" % (i + 1), ds, overrides=overrides)
        else:
            c.save("CT%04d.dcm" % (i + 1), ds)


@kind("position-missing", "missing-tag", "no Image Position (Patient)")
def _(c):
    damaged_middle(c, {"ImagePositionPatient": None})


@kind("orientation-missing", "missing-tag", "no Image Orientation (Patient)")
def _(c):
    damaged_middle(c, {"ImageOrientationPatient": None})


@kind("pixel-spacing-missing", "missing-tag", "no Pixel Spacing")
def _(c):
    damaged_middle(c, {"PixelSpacing": None})


@kind("position-two-values", "invalid-tag", "Image Position (Patient) with two values")
def _(c):
    damaged_middle(c, set_text("ImagePositionPatient", "1\\2"))


@kind("position-not-a-number", "invalid-tag", "Image Position (Patient) 'abc\\def\\ghi'")
def _(c):
    damaged_middle(c, set_text("ImagePositionPatient", "abc\\def\\ghi"))


@kind("position-nan", "invalid-tag", "Image Position (Patient) NaN")
def _(c):
    damaged_middle(c, set_text("ImagePositionPatient", "0\\0\\NaN"))


@kind("position-infinite", "invalid-tag", "Image Position (Patient) -inf")
def _(c):
    damaged_middle(c, set_text("ImagePositionPatient", "0\\0\\-inf"))


@kind("position-huge", "invalid-tag", "Image Position (Patient) z of +-9e307, alternating (the hang of issue 16)", says="more than 100 m")
def _(c):
    for i, ds in enumerate(c.slices()):
        c.save("CT%04d.dcm" % (i + 1), ds,
               overrides=set_text("ImagePositionPatient", "0\\0\\%s9e307" % ("-" if i % 2 else "")))


@kind("position-huge-spread", "invalid-tag",
      "positions evenly from z -9e307 to +9e307: regular spacing, but the mean spacing overflows to inf",
      says="more than 100 m")
def _(c):
    datasets = c.slices()
    last = len(datasets) - 1
    for i, ds in enumerate(datasets):
        z = 9e307 * ((2 * i - last) / last)     # 9e307 - (-9e307) itself would overflow
        c.save("CT%04d.dcm" % (i + 1), ds, overrides=set_text("ImagePositionPatient", "-89.25\\-89.25\\%r" % z))


@kind("position-huge-offset", "invalid-tag", "every position 1e15 mm away, spacing intact")
def _(c):
    for i, ds in enumerate(c.slices()):
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        c.save("CT%04d.dcm" % (i + 1), ds,
               overrides=set_text("ImagePositionPatient", "%r\\%r\\%r" % (x + 1e15, y, z)))


@kind("position-all-equal", "duplicate-position", "every slice at the same position")
def _(c):
    for i, ds in enumerate(c.slices()):
        ds.ImagePositionPatient = [-89.25, -89.25, 0]
        c.save("CT%04d.dcm" % (i + 1), ds)


@kind("orientation-not-orthogonal", "invalid-tag", "row and column directions at 45 degrees")
def _(c):
    damaged_middle(c, set_text("ImageOrientationPatient", "1\\0\\0\\0.7071068\\0.7071068\\0"))


@kind("orientation-zero", "invalid-tag", "Image Orientation (Patient) all zero")
def _(c):
    damaged_middle(c, set_text("ImageOrientationPatient", "0\\0\\0\\0\\0\\0"), every=True)


@kind("orientation-nan", "invalid-tag", "Image Orientation (Patient) with NaN")
def _(c):
    damaged_middle(c, set_text("ImageOrientationPatient", "1\\0\\0\\0\\NaN\\0"), every=True)


@kind("pixel-spacing-nan", "invalid-tag", "Pixel Spacing NaN")
def _(c):
    damaged_middle(c, set_text("PixelSpacing", "NaN\\NaN"), every=True)


@kind("pixel-spacing-zero", "invalid-tag", "Pixel Spacing 0")
def _(c):
    damaged_middle(c, set_text("PixelSpacing", "0\\0"), every=True)


@kind("pixel-spacing-negative", "invalid-tag", "Pixel Spacing -0.7")
def _(c):
    damaged_middle(c, set_text("PixelSpacing", "-0.7\\-0.7"), every=True)


@kind("pixel-spacing-huge", "invalid-tag", "Pixel Spacing 1e300 mm")
def _(c):
    damaged_middle(c, set_text("PixelSpacing", "1e300\\1e300"), every=True)


@kind("pixel-spacing-tiny", "invalid-tag", "Pixel Spacing 1e-300 mm", says="outside what a CT")
def _(c):
    damaged_middle(c, set_text("PixelSpacing", "1e-300\\1e-300"), every=True)


@kind("slice-thickness-negative", "invalid-tag", "Slice Thickness -5")
def _(c):
    damaged_middle(c, set_text("SliceThickness", "-5"), every=True)


@kind("slice-thickness-huge", "invalid-tag", "Slice Thickness 1e308")
def _(c):
    damaged_middle(c, set_text("SliceThickness", "1e308"), every=True)


@kind("spacing-between-slices-negative", "ok", "Spacing Between Slices -5 (SpineMet takes spacing from positions)")
def _(c):
    damaged_middle(c, set_text("SpacingBetweenSlices", "-5"), every=True)


@kind("positions-irregular", "irregular-spacing", "an extra slice half way between two others")
def _(c):
    datasets = c.slices()
    extra = copy.deepcopy(datasets[MIDDLE])
    extra.ImagePositionPatient[2] = float(extra.ImagePositionPatient[2]) + 2.5
    extra.SOPInstanceUID = uid("extra slice")
    c.save_series(datasets + [extra])


@kind("positions-gap", "slice-gap", "two slices missing in the middle")
def _(c):
    datasets = c.slices()
    c.save_series(datasets[:MIDDLE] + datasets[MIDDLE + 2:])


@kind("gantry-tilt", "gantry-tilt", "images tilted 15 degrees, stacked along the table")
def _(c):
    for i, ds in enumerate(c.slices()):
        ds.ImageOrientationPatient = [1, 0, 0, 0, 0.9659258, -0.2588190]
        ds.GantryDetectorTilt = 15
        c.save("CT%04d.dcm" % (i + 1), ds)


@kind("oblique", "not-axial", "images and stack both tilted 20 degrees about x (an oblique reformat)")
def _(c):
    for i, ds in enumerate(c.slices()):
        z = float(ds.ImagePositionPatient[2])
        ds.ImageOrientationPatient = [1, 0, 0, 0, 0.9396926, -0.3420201]
        # along the normal (0, 0.342, 0.940)
        ds.ImagePositionPatient = [-89.25, -89.25 + 0.3420201 * z, 0.9396926 * z]
        c.save("CT%04d.dcm" % (i + 1), ds)


@kind("sagittal", "not-axial", "a sagittal series: rows along y, columns along -z, stacked along x", says="is sagittal")
def _(c):
    for i, ds in enumerate(c.slices()):
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        ds.ImagePositionPatient = [-30 + 5 * i, -89.25, 89.25]
        c.save("CT%04d.dcm" % (i + 1), ds)


@kind("coronal", "not-axial", "a coronal series: rows along x, columns along -z, stacked along y", says="is coronal")
def _(c):
    for i, ds in enumerate(c.slices()):
        ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
        ds.ImagePositionPatient = [-89.25, -30 + 5 * i, 89.25]
        c.save("CT%04d.dcm" % (i + 1), ds)


@kind("sagittal-positions-axial", "not-axial",
      "a sagittal orientation on positions that step along z (issue 16 said 'duplicate position')", says="is sagittal")
def _(c):
    for i, ds in enumerate(c.slices()):
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        c.save("CT%04d.dcm" % (i + 1), ds)


@kind("feet-first", "ok", "a feet-first series (normal along -z), slices in reverse order")
def _(c):
    for i, ds in enumerate(c.slices()):
        ds.ImageOrientationPatient = [-1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [89.25, -89.25, float(ds.ImagePositionPatient[2])]
        ds.PixelData = numpy.ascontiguousarray(ds.pixel_array[:, ::-1]).tobytes()
        c.save("CT%04d.dcm" % (i + 1), ds)


# --- mixed series and duplicates -------------------------------------------------------------

@kind("mixed-series", "mixed-series", "one slice from another series")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "SeriesInstanceUID", uid("other series")))


@kind("mixed-frame-of-reference", "mixed-frame-of-reference", "one slice in another frame of reference")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "FrameOfReferenceUID", uid("other frame")))


@kind("mixed-matrix", "inconsistent-matrix", "one slice of 128 x 128")
def _(c):
    def shrink(ds):
        ds.PixelData = numpy.ascontiguousarray(ds.pixel_array[::2, ::2]).tobytes()
        ds.Rows = ds.Columns = 128
    damaged_middle(c, change=shrink)


@kind("mixed-pixel-spacing", "inconsistent-pixel-spacing", "one slice with Pixel Spacing 0.8")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "PixelSpacing", [0.8, 0.8]))


@kind("mixed-orientation", "mixed-orientation", "one slice rotated by 5 degrees")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 0.9961947, 0.0871557]))


@kind("mixed-image-type", "mixed-image-types", "one DERIVED\\SECONDARY slice among ORIGINAL\\PRIMARY ones")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "ImageType", ["DERIVED", "SECONDARY", "AXIAL"]))


@kind("mixed-modality", "not-ct", "one MR slice among CT ones")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "Modality", "MR"))


@kind("duplicate-file", "ok", "one file stored twice under two names")
def _(c):
    c.save_series(c.slices())
    shutil.copy(c.path("CT%04d.dcm" % MIDDLE), c.path("CT%04d-copy.dcm" % MIDDLE))


@kind("duplicate-resent-new-uid", "ok", "one image resent under a new SOP Instance UID")
def _(c):
    c.save_series(c.slices())
    ds = c.slices()[MIDDLE]
    ds.SOPInstanceUID = uid("resent")
    c.save("CT9999.dcm", ds)


@kind("duplicate-uid-two-positions", "duplicate-sop-instance-uid", "two slices sharing one SOP Instance UID")
def _(c):
    datasets = c.slices()
    datasets[MIDDLE + 1].SOPInstanceUID = datasets[MIDDLE].SOPInstanceUID
    c.save_series(datasets)


@kind("duplicate-position-other-pixels", "duplicate-position", "a second, different image at one position")
def _(c):
    datasets = c.slices()
    extra = copy.deepcopy(datasets[MIDDLE + 1])
    extra.ImagePositionPatient = list(datasets[MIDDLE].ImagePositionPatient)
    extra.SOPInstanceUID = uid("second reconstruction")
    c.save_series(datasets + [extra])


# --- sizes: huge, tiny, lying about the pixel data --------------------------------------------

@kind("matrix-40000", "broken-pixel-data", "Rows x Columns 40000 x 40000 over 128 KB of pixel data", says="40000 x 40000")
def _(c):
    damaged_middle(c, change=lambda ds: (setattr(ds, "Rows", 40000), setattr(ds, "Columns", 40000)))


@kind("matrix-65535-all", "broken-pixel-data", "every slice 65535 x 65535 over 128 KB of pixel data")
def _(c):
    damaged_middle(c, change=lambda ds: (setattr(ds, "Rows", 65535), setattr(ds, "Columns", 65535)), every=True)


@kind("rows-half-of-data", "broken-pixel-data", "Rows set to half the pixel data's size (garbage in issue 16)", says="holds 131072 bytes")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "Rows", 128), every=True)


@kind("rows-double-of-data", "broken-pixel-data", "Rows set to twice what the pixel data holds")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "Rows", 512), every=True)


@kind("rows-zero", "invalid-tag", "Rows 0")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "Rows", 0))


@kind("matrix-1x1", "hu-calibration", "a series of 1 x 1 images")
def _(c):
    for i, ds in enumerate(c.slices()):
        ds.PixelData = ds.pixel_array[128:129, 128:129].tobytes()
        ds.Rows = ds.Columns = 1
        c.save("CT%04d.dcm" % (i + 1), ds)


@kind("matrix-8x8", "no-spine", "a series of 8 x 8 images (every 32nd pixel)")
def _(c):
    for i, ds in enumerate(c.slices()):
        ds.PixelData = numpy.ascontiguousarray(ds.pixel_array[::32, ::32]).tobytes()
        ds.Rows = ds.Columns = 8
        c.save("CT%04d.dcm" % (i + 1), ds)


@kind("frames-million", "multi-frame", "Number of Frames 1000000 on a CT image")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "NumberOfFrames", 1000000))


@kind("frames-not-a-number", "invalid-tag", "Number of Frames '99999999999999999999'", says="Number")
def _(c):
    damaged_middle(c, set_text("NumberOfFrames", "99999999999999999999"))


@kind("rle-claims-40000", "broken-pixel-data", "RLE data of 256 x 256 under Rows x Columns 40000 x 40000")
def _(c):
    for i, ds in enumerate(c.encoded_with("dcmcrle")):
        ds.Rows = ds.Columns = 40000
        c.save("CT%04d.dcm" % (i + 1), ds, RLE)


@kind("jpeg2000-bomb", "memory-budget", "a 1 KB JPEG 2000 codestream whose header claims 20000 x 20000", says="20000 x 20000")
def _(c):
    ds = c.slices()[0]
    small = ds.pixel_array[:16, :16].copy()
    ds.PixelData = small.tobytes()
    ds.Rows = ds.Columns = 16
    codestream = bytearray(c.jpeg2000(ds, ("-n", "2")))   # 16 x 16 allows two resolutions
    siz = codestream.index(b"\xff\x51")
    struct.pack_into(">IIIIII", codestream, siz + 6, 20000, 20000, 0, 0, 20000, 20000)
    assert len(codestream) < 1024, len(codestream)
    for i, slice_ds in enumerate(c.slices()):
        slice_ds.Rows = slice_ds.Columns = 20000
        encapsulated(slice_ds, bytes(codestream), JPEG_2000_LOSSLESS)
        c.save("CT%04d.dcm" % (i + 1), slice_ds, JPEG_2000_LOSSLESS)


@kind("jpeg2000-header-disagrees", "broken-pixel-data",
      "a JPEG 2000 codestream claiming 20000 x 20000 under Rows x Columns 256 x 256", says="20000 x 20000")
def _(c):
    ds = c.slices()[0]
    codestream = bytearray(c.jpeg2000(ds))
    siz = codestream.index(b"\xff\x51")
    struct.pack_into(">IIIIII", codestream, siz + 6, 20000, 20000, 0, 0, 20000, 20000)
    for i, slice_ds in enumerate(c.slices()):
        encapsulated(slice_ds, bytes(codestream), JPEG_2000_LOSSLESS)
        c.save("CT%04d.dcm" % (i + 1), slice_ds, JPEG_2000_LOSSLESS)


@kind("jpeg-ls-bomb", "memory-budget", "a JPEG-LS frame header claiming 30000 x 30000, Rows x Columns agreeing", says="30000 x 30000")
def _(c):
    for i, ds in enumerate(c.encoded_with("dcmcjpls")):
        frame = bytearray(first_frame(ds))
        sof = frame.index(b"\xff\xf7")
        struct.pack_into(">HH", frame, sof + 5, 30000, 30000)
        ds.Rows = ds.Columns = 30000
        encapsulated(ds, bytes(frame), JPEG_LS_LOSSLESS)
        c.save("CT%04d.dcm" % (i + 1), ds, JPEG_LS_LOSSLESS)


@kind("jpeg-ls-header-disagrees", "broken-pixel-data", "a JPEG-LS frame of 256 x 128 under Rows x Columns 256 x 256")
def _(c):
    for i, ds in enumerate(c.encoded_with("dcmcjpls")):
        frame = bytearray(first_frame(ds))
        sof = frame.index(b"\xff\xf7")
        struct.pack_into(">H", frame, sof + 5, 128)
        encapsulated(ds, bytes(frame), JPEG_LS_LOSSLESS)
        c.save("CT%04d.dcm" % (i + 1), ds, JPEG_LS_LOSSLESS)


@kind("jpeg-lossless-header-disagrees", "broken-pixel-data", "a JPEG Lossless frame of 64 rows under Rows 256")
def _(c):
    for i, ds in enumerate(c.encoded_with("dcmcjpeg", "+e1")):
        frame = bytearray(first_frame(ds))
        sof = frame.index(b"\xff\xc3")
        struct.pack_into(">H", frame, sof + 5, 64)
        encapsulated(ds, bytes(frame), JPEG_LOSSLESS_SV1)
        c.save("CT%04d.dcm" % (i + 1), ds, JPEG_LOSSLESS_SV1)


# --- broken compressed streams ---------------------------------------------------------------

def broken_frames(c, tool, options, ts, damage):
    for i, ds in enumerate(c.encoded_with(tool, *options)):
        if i == MIDDLE:
            frame = damage(bytearray(first_frame(ds)))
            encapsulated(ds, bytes(frame) + (b"\0" if len(frame) % 2 else b""), ts)
        c.save("CT%04d.dcm" % (i + 1), ds, ts)


def cut(frame):
    return frame[:len(frame) // 3]


def scrambled(frame):
    rng = numpy.random.default_rng(2)
    middle = len(frame) // 2
    frame[middle:middle + 64] = rng.bytes(64)
    return frame


def rle_header_lies(frame):
    struct.pack_into("<I", frame, 0, 15)           # 15 segments
    for k in range(1, 16):
        struct.pack_into("<I", frame, 4 * k, 0x7FFFFFF0)
    return frame


@kind("rle-truncated", "broken-pixel-data", "an RLE frame cut to a third", says="segment")
def _(c):
    broken_frames(c, "dcmcrle", (), RLE, cut)


@kind("rle-header-lies", "broken-pixel-data", "an RLE header of 15 segments at offsets beyond the frame")
def _(c):
    broken_frames(c, "dcmcrle", (), RLE, rle_header_lies)


@kind("jpeg-lossless-truncated", "broken-pixel-data", "a JPEG Lossless frame cut to a third")
def _(c):
    broken_frames(c, "dcmcjpeg", ("+e1",), JPEG_LOSSLESS_SV1, cut)


@kind("jpeg-lossless-scrambled", "ok",
      "64 random bytes inside a JPEG Lossless frame (decoded with a local artefact: DCMTK reports no error)")
def _(c):
    broken_frames(c, "dcmcjpeg", ("+e1",), JPEG_LOSSLESS_SV1, scrambled)


@kind("jpeg-ls-truncated", "broken-pixel-data", "a JPEG-LS frame cut to a third")
def _(c):
    broken_frames(c, "dcmcjpls", (), JPEG_LS_LOSSLESS, cut)


@kind("jpeg-ls-scrambled", "broken-pixel-data", "64 random bytes inside a JPEG-LS frame")
def _(c):
    broken_frames(c, "dcmcjpls", (), JPEG_LS_LOSSLESS, scrambled)


def jpeg2000_series(c, damage=None):
    for i, ds in enumerate(c.slices()):
        codestream = bytearray(c.jpeg2000(ds))
        if damage and i == MIDDLE:
            codestream = damage(codestream)
        encapsulated(ds, bytes(codestream) + (b"\0" if len(codestream) % 2 else b""), JPEG_2000_LOSSLESS)
        c.save("CT%04d.dcm" % (i + 1), ds, JPEG_2000_LOSSLESS)


@kind("jpeg2000-clean", "ok", "the series in JPEG 2000 Lossless (the control of the JPEG 2000 kinds)")
def _(c):
    jpeg2000_series(c)


@kind("jpeg2000-truncated", "broken-pixel-data", "a JPEG 2000 codestream cut to a third")
def _(c):
    jpeg2000_series(c, cut)


@kind("jpeg2000-garbage", "broken-pixel-data", "random bytes in place of a JPEG 2000 codestream")
def _(c):
    jpeg2000_series(c, lambda frame: bytearray(numpy.random.default_rng(3).bytes(2000)))


@kind("encapsulated-no-fragment", "unreadable-file", "encapsulated pixel data with a Basic Offset Table and no fragment")
def _(c):
    for i, ds in enumerate(c.encoded_with("dcmcrle")):
        if i == MIDDLE:
            ds.PixelData = struct.pack("<HHI", 0xFFFE, 0xE000, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
            ds["PixelData"].is_undefined_length = True
        c.save("CT%04d.dcm" % (i + 1), ds, RLE)


# --- pixel format and rescale ----------------------------------------------------------------

@kind("photometric-rgb", "unsupported-pixel-format", "Photometric Interpretation RGB on one sample")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "PhotometricInterpretation", "RGB"))


@kind("photometric-palette", "unsupported-pixel-format", "PALETTE COLOR without a palette")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "PhotometricInterpretation", "PALETTE COLOR"))


@kind("photometric-missing", "missing-tag", "no Photometric Interpretation")
def _(c):
    damaged_middle(c, {"PhotometricInterpretation": None})


@kind("monochrome1", "ok", "MONOCHROME1 (displayed inverted; the HU do not change)")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "PhotometricInterpretation", "MONOCHROME1"), every=True)


@kind("samples-per-pixel-3", "unsupported-pixel-format", "Samples per Pixel 3 on grey-scale data")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "SamplesPerPixel", 3))


@kind("bits-allocated-12", "unsupported-pixel-format", "Bits Allocated 12")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "BitsAllocated", 12))


@kind("bits-stored-above-allocated", "invalid-tag", "Bits Stored 20 in 16 bits allocated")
def _(c):
    damaged_middle(c, change=lambda ds: (setattr(ds, "BitsStored", 20), setattr(ds, "HighBit", 19)))


@kind("rescale-slope-zero", "invalid-tag", "Rescale Slope 0")
def _(c):
    damaged_middle(c, set_text("RescaleSlope", "0"))


@kind("rescale-slope-nan", "invalid-tag", "Rescale Slope NaN")
def _(c):
    damaged_middle(c, set_text("RescaleSlope", "NaN"))


@kind("rescale-missing", "missing-tag", "no Rescale Intercept")
def _(c):
    damaged_middle(c, {"RescaleIntercept": None})


@kind("rescale-huge", "hu-calibration", "Rescale Slope 1e300 and Intercept -1e308 (every value clamped)")
def _(c):
    overrides = set_text("RescaleSlope", "1e300")
    overrides.update(set_text("RescaleIntercept", "-1e308"))
    damaged_middle(c, overrides, every=True)


@kind("rescale-intercept-zero", "hu-calibration", "Rescale Intercept 0 where it is -1024 (every HU 1024 too high)")
def _(c):
    damaged_middle(c, set_text("RescaleIntercept", "0"), every=True)


# --- tags: private, nested, modality, SOP class ----------------------------------------------

@kind("private-tags", "ok", "private elements: a creator, text, a 64 KB OB, a private sequence, one without creator")
def _(c):
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + element(0x00091002, "LO", text("inside")) + \
        struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    private = {0x00090010: ("LO", text("HOSTILE CORPUS")),
               0x00091001: ("SQ", item + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0), 0xFFFFFFFF),
               0x00091003: ("OB", bytes(65536)),
               0x00111001: ("UN", b"\1\2\3\4"),
               0x00191010: ("LO", text("no creator for this one"))}
    c.save_series(c.slices(), overrides=private)


@kind("nesting-deep", "nesting-too-deep", "a private sequence nested 50000 deep (undefined lengths)", says="more than 64 deep")
def _(c):
    damaged_middle(c, {0x00090010: ("LO", text("HOSTILE")), 0x00091001: Raw(nested_sequences(DEEP))})


@kind("nesting-deep-defined-lengths", "nesting-too-deep", "a private sequence nested 50000 deep (defined lengths)")
def _(c):
    damaged_middle(c, {0x00090010: ("LO", text("HOSTILE")), 0x00091001: Raw(nested_sequences(DEEP, defined=True))})


@kind("nesting-deep-implicit", "nesting-too-deep", "a sequence nested 50000 deep in implicit VR")
def _(c):
    datasets = c.slices()
    for i, ds in enumerate(datasets):
        overrides = None
        if i == MIDDLE:
            overrides = {0x00090010: ("LO", text("HOSTILE")), 0x00091001: Raw(nested_sequences(DEEP, implicit=True))}
        c.save("CT%04d.dcm" % (i + 1), ds, IMPLICIT, overrides=overrides)


@kind("deflate-bomb", "memory-budget",
      "a 5 MB deflated dataset inflating to 1 GiB (a private OB of zeros), under --memory-budget 128", cli_only=True)
def _(c):
    ds = c.slices()[MIDDLE]
    marker = b"\xde\xad" * 8
    plain = encode_dataset(ds, EXPLICIT, {0x00090010: ("LO", text("HOSTILE")), 0x00091001: Raw(marker)})
    before, after = plain.split(marker)
    zeros = 1 << 30
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    chunks = [compressor.compress(before + element(0x00091001, "OB", b"", length=zeros))]
    block = bytes(1 << 24)
    for _ in range(zeros // len(block)):
        chunks.append(compressor.compress(block))
    chunks.append(compressor.compress(after))
    chunks.append(compressor.flush())
    c.save_series(c.slices())
    c.write("CT%04d.dcm" % (MIDDLE + 1), part10(ds, EXPLICIT, meta_ts=DEFLATED, dataset_bytes=b"".join(chunks)))
    c.args = ["--memory-budget", "128"]


@kind("nesting-moderate", "ok", "a private sequence nested 30 deep (as deep as real objects go)")
def _(c):
    c.save_series(c.slices(), overrides={0x00090010: ("LO", text("HOSTILE")), 0x00091001: Raw(nested_sequences(30))})


@kind("modality-mr", "not-ct", "a whole series with Modality MR")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "Modality", "MR"), every=True)


@kind("modality-missing", "missing-tag", "no Modality")
def _(c):
    damaged_middle(c, {"Modality": None})


@kind("secondary-capture", "unsupported-sop-class", "Secondary Capture instances")
def _(c):
    def change(ds):
        ds.SOPClassUID = SECONDARY_CAPTURE
    damaged_middle(c, change=change, every=True)


@kind("enhanced-ct", "multi-frame", "Enhanced CT Image Storage as the SOP class")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "SOPClassUID", ENHANCED_CT_STORAGE), every=True)


# --- how many slices -------------------------------------------------------------------------

@kind("empty-folder", "too-few-slices", "an empty folder")
def _(c):
    pass


@kind("one-slice", "too-few-slices", "a series of one slice")
def _(c):
    c.save_series(c.slices()[MIDDLE:MIDDLE + 1])


@kind("two-slices", "too-few-slices", "a series of two slices")
def _(c):
    c.save_series(c.slices()[MIDDLE:MIDDLE + 2])


@kind("localizer-only", "localizer-only", "only localizer images")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "ImageType", ["ORIGINAL", "PRIMARY", "LOCALIZER"]), every=True)


@kind("localizer-mixed", "ok", "a localizer among the axial slices (left out with a warning)")
def _(c):
    def localizer(ds):
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
        ds.SOPInstanceUID = uid("localizer")
    c.save_series(c.slices())
    ds = c.slices()[0]
    localizer(ds)
    c.save("CT0000.dcm", ds)


# --- the file system and the command line ----------------------------------------------------

@kind("symlink-loop", "unreadable-file", "two symbolic links pointing at each other among the slices", cli_only=True, says="CTloop-")
def _(c):
    c.save_series(c.slices())
    os.symlink("CTloop-b.dcm", c.path("CTloop-a.dcm"))
    os.symlink("CTloop-a.dcm", c.path("CTloop-b.dcm"))


@kind("symlink-dangling", "unreadable-file", "a symbolic link to a file that does not exist among the slices",
      cli_only=True)
def _(c):
    c.save_series(c.slices())
    os.symlink("gone.dcm", c.path("CT0099.dcm"))


@kind("unreadable-io-error", "unreadable-file", "a file whose reading fails (a link to /proc/self/mem: EIO)",
      cli_only=True, says="CT0099.dcm")
def _(c):
    c.save_series(c.slices())
    os.symlink("/proc/self/mem", c.path("CT0099.dcm"))


@kind("unreadable-permissions", "unreadable-file", "a slice without read permission (run as nobody when the tests run as root)", cli_only=True)
def _(c):
    c.save_series(c.slices())
    os.chmod(c.path("CT%04d.dcm" % MIDDLE), 0)


@kind("fifo-named", "unreadable-file", "a named pipe given on the command line (reading it would block)",
      cli_only=True, says="not a regular file")
def _(c):
    c.save_series(c.slices())
    os.mkfifo(c.path("pipe.dcm"))
    c.inputs = [c.path("pipe.dcm")] + [c.path("CT%04d.dcm" % i) for i in range(1, 15)]


@kind("missing-input", "missing-input", "a folder that does not exist", cli_only=True)
def _(c):
    c.inputs = [c.path("no-such-folder")]


@kind("json-output-unwritable", "output-write",
      "--json into a folder that does not exist, on an MR series (the path must fail first)", cli_only=True, says="does not exist")
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "Modality", "MR"), every=True)
    c.args = ["--json", c.path("no-such-folder/result.json")]


@kind("json-output-is-folder", "output-write", "--json naming a folder, on an MR series", cli_only=True)
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "Modality", "MR"), every=True)
    os.makedirs(c.path("a-folder"))
    c.args = ["--json", c.path("a-folder")]


@kind("dicom-out-is-file", "output-write", "--dicom-out naming a file, on an MR series", cli_only=True)
def _(c):
    damaged_middle(c, change=lambda ds: setattr(ds, "Modality", "MR"), every=True)
    c.args = ["--dicom-out", c.write("a-file", b"x")]


@kind("flag-threads-huge", "usage", "--threads 1000000", cli_only=True)
def _(c):
    c.save_series(c.slices())
    c.args = ["--threads", "1000000"]


@kind("flag-batch-size-huge", "usage", "--batch-size 99999999999", cli_only=True)
def _(c):
    c.save_series(c.slices())
    c.args = ["--batch-size", "99999999999"]


@kind("budget-small", "memory-budget", "the clean series under --memory-budget 1 (MiB): refused part way",
      cli_only=True, says="memory budget")
def _(c):
    c.save_series(c.slices())
    c.args = ["--memory-budget", "1"]


@kind("flag-memory-budget-zero", "usage", "--memory-budget 0", cli_only=True)
def _(c):
    c.save_series(c.slices())
    c.args = ["--memory-budget", "0"]


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the kind names, one a line")
    parser.add_argument("--table", action="store_true", help="print kind | expected | what as Markdown rows")
    parser.add_argument("--base", help="the phantom series folder (spinemet-phantom --out)")
    parser.add_argument("--out", help="write each kind into OUT/<kind>")
    parser.add_argument("kinds", nargs="*", help="kinds to write (default: all)")
    options = parser.parse_args(argv)
    if options.list:
        print("\n".join(KINDS))
        return 0
    if options.table:
        for k in KINDS.values():
            print("| `%s` | `%s` | %s%s |" % (k.name, k.expected, k.what, " (command line only)" if k.cli_only else ""))
        return 0
    if not options.base or not options.out:
        parser.error("--base and --out are needed to write kinds")
    for name in options.kinds or list(KINDS):
        written = write_kind(name, os.path.join(options.out, name), options.base)
        print(name, " ".join(written.paths), " ".join(written.args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
