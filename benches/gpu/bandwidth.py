"""The GPU's memory bandwidth as a device-to-device copy sees it, measured with PyTorch, for the decode bound of
issue 17's item 3 (bytes one decode step reads / this bandwidth). Prints one JSON line. A copy of S bytes moves
2S bytes through memory (read and written), and memory's bandwidth is shared by both directions, so
copy_gb_per_s counts both, as the device notes' 3.0 TB/s for an H100 does: that is the rate a read-only decode
step can at best stream its weights at. Usage: bandwidth.py [GIB] (default 4 GiB per buffer)."""
import json
import sys

import torch

size = int(float(sys.argv[1]) * 2**30) if len(sys.argv) > 1 else 4 * 2**30
src = torch.empty(size, dtype=torch.uint8, device="cuda")
dst = torch.empty_like(src)
src.fill_(1)
for _ in range(3):
    dst.copy_(src)
start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
copies = 20
start.record()
for _ in range(copies):
    dst.copy_(src)
end.record()
torch.cuda.synchronize()
seconds = start.elapsed_time(end) / 1000
moved = 2 * size * copies
print(json.dumps({"kind": "bandwidth", "device": torch.cuda.get_device_name(), "buffer_bytes": size,
                  "copies": copies, "seconds": round(seconds, 4),
                  "copy_gb_per_s": round(moved / seconds / 1e9, 1)}), flush=True)
