"""The probe's entry point in the grading kernel (kernel side; executed after the probe module)."""


def _grading_main(user_ns, args):
    challenge = read(args["challenge"], args["max_challenge"])
    try:
        with quiet():
            result = globals()[args["function"]](user_ns, challenge)
        if not isinstance(result, dict):
            raise ProbeFailure("the probe returned no data")
    except ProbeFailure as exc:
        result = {"failure": str(exc)}
    except Exception as exc:  # noqa: BLE001
        result = {"failure": f"{type(exc).__name__}: {exc}"}
    result["nonce"] = challenge.get("nonce")
    try:
        write(args["result"], result)
    except CodecError as exc:
        write(args["result"] + ".err", {"failure": f"the probe's data could not be sent: {exc}",
                                        "nonce": challenge.get("nonce")})
