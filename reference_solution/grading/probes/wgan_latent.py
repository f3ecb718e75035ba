"""Probes of Part 3 of ``wgan_anomalies``: latent samplers and radii (kernel side)."""


def _rows(value, what):
    """A sampler's output as float64 rows (its own dtype and type recorded)."""
    return {"kind": kind(value), "rows": array(value, what).to(torch.float64)
            if type(value) is torch.Tensor else np.asarray(array(value, what), dtype=np.float64)}


def sampler(ns, challenge):
    name = challenge["function"]
    fn = need(ns, name)
    runs = []
    for case in challenge["cases"]:
        seed_all(case["seed"])
        kwargs = {k: case[k] for k in case["kwargs"]}
        out = call(name, fn, **kwargs)
        if name == "SampleInnerAndOuterExamples":
            if not (isinstance(out, tuple) and len(out) == 2):
                raise ProbeFailure("SampleInnerAndOuterExamples should return (samples_inner, samples_outer)")
            runs.append({"inner": _rows(out[0], "samples_inner"), "outer": _rows(out[1], "samples_outer")})
        else:
            runs.append(_rows(out, name))
    return {"runs": runs}


def _value(scope, name):
    if name not in scope:
        return {"error": f"`{name}` is not defined: run the cell that defines it first"}
    try:
        return {"value": number(scope[name], name)}
    except ProbeFailure as exc:
        return {"error": str(exc)}


def rerun(ns, challenge):
    """The values in the notebook, then the student's cell run again with secret inputs."""
    names, overrides = challenge["names"], challenge["overrides"]
    original = {name: _value(ns, name) for name in [*names, *overrides]}
    source = challenge["cell"] or cell_defining(ns, challenge["defines"])
    scope = rerun_cell(ns, source, overrides)
    return {"original": original, "rerun": {name: _value(scope, name) for name in names}}
