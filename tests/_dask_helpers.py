"""Objects the Dask tests send to worker processes (importable by name there)."""

import os

LOADS = []


class CountedModel:
    """Records every unpickling in its process, to count model transfers."""

    def __init__(self, factor):
        self.factor = factor

    def __setstate__(self, state):
        self.__dict__.update(state)
        LOADS.append(os.getpid())

    def scale(self, partition):
        return partition * self.factor


def loads_in_this_process():
    return len(LOADS)


def scale_partition(partition, model):
    return model.scale(partition)


def fail_on_negative(partition, model):
    if (partition.to_numpy() < 0).any():
        raise ValueError("found a negative value")
    return partition


def partition_sum(partition):
    return {"n": len(partition), "total": partition.to_numpy().sum(axis=0)}


def merge_sums(results):
    first = results[0]
    return {
        "n": sum(r["n"] for r in results),
        "total": sum((r["total"] for r in results[1:]), first["total"]),
    }
