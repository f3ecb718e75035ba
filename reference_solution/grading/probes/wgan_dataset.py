"""Probes of Part 1 of ``wgan_anomalies``: the dataset ``DS`` (kernel side)."""

import resource

from torch.utils.data import DataLoader


def _outcome(DS, case, day):
    """Build DS on one case and read ``day``: the item and the length, or the error."""
    def run():
        ds = DS(case["pv"], case["gh"], case["mask"])
        item = ds[day]
        return {"item": array(item, "ds[i]"), "kind": kind(item), "len": int(len(ds))}
    out = attempt(run)
    if "value" in out:
        return out["value"]
    return {"error": out["error"]}


def items(ns, challenge):
    DS = need(ns, "DS")
    cases = []
    for case in challenge["cases"]:
        ds = call("DS(pv, gh, mask)", DS, case["pv"], case["gh"], case["mask"])
        got = {"len": number(call("len(ds)", len, ds), "len(ds)"), "items": [], "kinds": []}
        for day in case["days"]:
            item = call(f"ds[{day}]", ds.__getitem__, day)
            got["kinds"].append(kind(item))
            got["items"].append(array(item, f"ds[{day}]"))
        doubled = call("DS(pv, gh, mask, transform)", DS, case["pv"], case["gh"], case["mask"],
                       lambda x: x * 2)
        got["transformed"] = array(call("ds[0] with a transform", doubled.__getitem__, 0), "ds[0]")
        got["batches"] = []
        for b in challenge["batch_sizes"]:
            batch = call(f"a DataLoader batch of {b}", lambda: next(iter(DataLoader(ds, batch_size=b))))  # noqa: B023
            got["batches"].append({"kind": kind(batch), "data": array(batch, f"a DataLoader batch of {b}")
                                   if kind(batch) == "tensor" else np.zeros(0)})
        cases.append(got)
    return {"cases": cases}


def _data_memory() -> int:
    """Bytes of private writable memory of this process now (``VmData``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmData")


def memory_mapped(ns, challenge):
    """Open and read DS with the data-memory soft limit a little above what the process uses:
    a memory-mapped file costs none of it, a file read whole does not fit (under grading the
    files are larger than the jail's own memory limit too)."""
    DS = need(ns, "DS")
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    try:
        cap = _data_memory() + challenge["headroom"]
        resource.setrlimit(resource.RLIMIT_DATA, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    except (OSError, ValueError):
        pass  # the files are larger than the jail's memory anyway
    def read():
        ds = DS(challenge["pv"], challenge["gh"], challenge["mask"])
        return [array(ds[d], "ds[i]") for d in challenge["days"]]
    try:
        out = attempt(read)
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
    return {"items": out["value"]} if "value" in out else {"error": out["error"]}


def refusals(ns, challenge):
    DS = need(ns, "DS")
    return {"outcomes": [_outcome(DS, case, 0) for case in challenge["cases"]]}
