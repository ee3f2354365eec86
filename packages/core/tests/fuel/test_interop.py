"""PyTorch interop: streams in DataLoader, torch datasets in Fuel streams."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from fuel.datasets import IndexableDataset
from fuel.interop import StreamDataset, TorchMapDataset
from fuel.schemes import ConstantScheme, SequentialScheme, ShuffledScheme
from fuel.streams import DataStream
from fuel.transformers import Batch


def _stream():
    ds = IndexableDataset({"x": np.arange(10, dtype="float32"), "y": np.arange(10)})
    return DataStream(ds, iteration_scheme=ShuffledScheme(10, 3, rng=1))


def test_stream_in_dataloader_matches_stream():
    reference = [b[0].tolist() for b in _stream().get_epoch_iterator()]
    loader = DataLoader(StreamDataset(_stream()), batch_size=None)
    got = [b["x"] for b in loader]
    assert all(isinstance(t, torch.Tensor) for t in got)
    assert [t.tolist() for t in got] == reference
    assert len(StreamDataset(_stream())) == 4


def test_stream_in_dataloader_with_workers_covers_epoch_and_set_epoch():
    ds = StreamDataset(_stream(), as_dict=False)
    ds.set_epoch(1)
    loader = DataLoader(ds, batch_size=None, num_workers=2)
    got = sorted(int(v) for x, _ in loader for v in x)
    assert got == list(range(10))
    reference = _stream()
    list(reference.get_epoch_iterator())
    epoch1 = sorted(tuple(b[1].tolist()) for b in reference.get_epoch_iterator())
    ds.set_epoch(1)
    again = sorted(tuple(y.tolist()) for _, y in DataLoader(ds, batch_size=None, num_workers=2))
    assert again == epoch1


def test_workers_need_a_datastream(monkeypatch):
    class Info:
        num_workers, id = 2, 0

    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: Info())
    ds = StreamDataset(Batch(DataStream(IndexableDataset({"x": np.arange(4)})), ConstantScheme(2)))
    with pytest.raises(ValueError, match="num_workers"):
        list(ds)
    plain = StreamDataset(_stream(), as_dict=False)
    assert [y.tolist() for _, y in plain] == [b[1].tolist() for b in _stream().get_epoch_iterator()][0::2]


def test_torch_map_dataset_in_a_fuel_stream():
    features = torch.arange(12.0).reshape(6, 2)
    targets = torch.tensor([0, 1, 0, 1, 1, 0])
    fds = TorchMapDataset(TensorDataset(features, targets))
    assert fds.num_examples == 6 and fds.sources == ("features", "targets")
    stream = DataStream(fds, iteration_scheme=SequentialScheme(6, 4))
    batches = list(stream.get_epoch_iterator())
    np.testing.assert_array_equal(batches[0][0], features[:4].numpy())
    np.testing.assert_array_equal(batches[1][1], targets[4:].numpy())
    with pytest.raises(ValueError, match="out of range"):
        fds.get_data(None, [7])
    named = TorchMapDataset(TensorDataset(features, targets), sources=("a", "b"))
    assert named.sources == ("a", "b") and named.get_data(None, 5)[1] == 0


def test_torch_map_dataset_dict_items_and_source_selection():
    class Dicts(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"image": torch.full((2,), float(i)), "label": i}

    fds = TorchMapDataset(Dicts(), sources=None)
    assert fds.sources == ("image", "label")
    image, label = fds.get_data(None, slice(0, 2))
    assert image.tolist() == [[0.0, 0.0], [1.0, 1.0]] and label.tolist() == [0, 1]
