#!/usr/bin/env python3
"""Reads TensorBoard event files (crest's RUN/tb/gen_K/events.out.tfevents.*) without TensorFlow.

Checks every TFRecord's framing (uint64 length, masked CRC32C of the length, data, masked
CRC32C of the data) and decodes the Event protos: with python3-protobuf and protoc, through
bindings generated from proto/tensorboard_event.proto into a temporary folder; otherwise (or
with --by-hand) by reading the protobuf wire format directly. Prints one line per scalar,
"FILE STEP TAG VALUE", or with --json one object {"files": {FILE: {"file_version": ...,
"events": [{"wall_time", "step", "tag", "value"}]}}, "decoder": "protobuf" | "by-hand"}.
Exits 1 naming the file and record on a bad CRC, a cut record (unless --allow-cut) or an
undecodable Event.

    scripts/read_tfevents.py runs/quickstart/tb            # every events file below the folder
    scripts/read_tfevents.py --json FILE...
"""
import argparse
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto",
                     "tensorboard_event.proto")


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class BadFile(Exception):
    pass


def records(path, allow_cut=False):
    """The data of every record in `path`, each checked against both CRCs. With `allow_cut` a
    last record cut off by the end of the file (a writer killed mid-write) is left out with a
    note on stderr, as TensorBoard does; a CRC mismatch is always an error."""
    with open(path, "rb") as f:
        blob = f.read()
    pos, n = 0, 0

    def cut_off(what):
        if not allow_cut:
            raise BadFile(f"{path}: record {n} is cut off {what}")
        print(f"read_tfevents: {path}: record {n} is cut off {what}; left out", file=sys.stderr)

    while pos < len(blob):
        if pos + 12 > len(blob):
            cut_off(f"in its header (byte {pos})")
            return
        header = blob[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[pos + 8:pos + 12])
        if length_crc != masked_crc32c(header):
            raise BadFile(f"{path}: record {n} has a bad length CRC (byte {pos})")
        end = pos + 12 + length + 4
        if end > len(blob):
            cut_off(f"({length} bytes announced at byte {pos})")
            return
        data = blob[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[end - 4:end])
        if data_crc != masked_crc32c(data):
            raise BadFile(f"{path}: record {n} has a bad data CRC (byte {pos})")
        yield data
        pos, n = end, n + 1


# ---- by hand: the protobuf wire format -------------------------------------------------------

def _varint(data, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise BadFile("varint cut off")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data):
    """(field number, wire type, value) of each field; value: int, bytes, or raw bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise BadFile(f"unsupported wire type {wire}")
        if pos > len(data):
            raise BadFile("field cut off")
        yield number, wire, value


def decode_by_hand(data):
    """Event -> {"wall_time", "step", "file_version", "values": [(tag, simple_value)]}."""
    event = {"wall_time": 0.0, "step": 0, "file_version": None, "values": []}
    for number, wire, value in _fields(data):
        if number == 1 and wire == 1:
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif number == 2 and wire == 0:
            event["step"] = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 3 and wire == 2:
            event["file_version"] = value.decode("utf-8")
        elif number == 5 and wire == 2:
            for vnumber, vwire, vvalue in _fields(value):
                if vnumber != 1 or vwire != 2:
                    continue
                tag, simple = None, None
                for fnumber, fwire, fvalue in _fields(vvalue):
                    if fnumber == 1 and fwire == 2:
                        tag = fvalue.decode("utf-8")
                    elif fnumber == 2 and fwire == 5:
                        simple = struct.unpack("<f", fvalue)[0]
                event["values"].append((tag, simple))
    return event


# ---- through python3-protobuf ------------------------------------------------------------------

def protobuf_decoder(workdir):
    """A decoder from bindings generated with protoc, or None without protoc or python3-protobuf."""
    protoc = shutil.which("protoc")
    if protoc is None:
        return None
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        return None
    proto_dir = os.path.dirname(os.path.abspath(PROTO))
    subprocess.run([protoc, f"--proto_path={proto_dir}", f"--python_out={workdir}",
                    os.path.basename(PROTO)], check=True)
    sys.path.insert(0, workdir)
    import tensorboard_event_pb2  # noqa: E402  (generated above)

    def decode(data):
        event = tensorboard_event_pb2.Event()
        event.ParseFromString(data)
        return {"wall_time": event.wall_time, "step": event.step,
                "file_version": event.file_version if event.HasField("file_version") else None,
                "values": [(v.tag, v.simple_value) for v in event.summary.value]}

    return decode


def event_files(paths):
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(glob.glob(os.path.join(path, "**", "events.out.tfevents.*"),
                                      recursive=True))
        else:
            files.append(path)
    return files


def read(paths, by_hand=False, allow_cut=False):
    with tempfile.TemporaryDirectory() as workdir:
        decoder = None if by_hand else protobuf_decoder(workdir)
        name = "protobuf" if decoder else "by-hand"
        decoder = decoder or decode_by_hand
        out = {"decoder": name, "files": {}}
        for path in event_files(paths):
            entry = {"file_version": None, "events": []}
            for n, data in enumerate(records(path, allow_cut)):
                try:
                    event = decoder(data)
                except Exception as e:  # a DecodeError, or BadFile by hand
                    raise BadFile(f"{path}: record {n} is not an Event ({e})")
                if n == 0:
                    entry["file_version"] = event["file_version"]
                for tag, value in event["values"]:
                    entry["events"].append({"wall_time": event["wall_time"], "step": event["step"],
                                            "tag": tag, "value": value})
            out["files"][path] = entry
        return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", help="events files, or folders to search")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--by-hand", action="store_true",
                        help="decode the wire format by hand even where protobuf is available")
    parser.add_argument("--allow-cut", action="store_true",
                        help="leave out a last record cut off by the end of a file")
    args = parser.parse_args()
    try:
        result = read(args.paths, args.by_hand, args.allow_cut)
    except BadFile as e:
        print(f"read_tfevents: {e}", file=sys.stderr)
        return 1
    if not result["files"]:
        print("read_tfevents: no events.out.tfevents.* files in " + " ".join(args.paths),
              file=sys.stderr)
        return 1
    if args.json:
        json.dump(result, sys.stdout)
        print()
    else:
        for path, entry in result["files"].items():
            for e in entry["events"]:
                print(f"{path} {e['step']} {e['tag']} {e['value']:.9g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
