"""Training throughput of the course CNN and MLP in PyTorch on the GPU: the reference the WebGPU
bench row on the same machine is compared with. Same models, batch 100, Adam 1e-3, random data.

Usage: python3 torch-cuda-reference.py [steps]   (prints a markdown table)
"""
import sys
import time

import torch


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 1024), torch.nn.ReLU(),
        torch.nn.Dropout(0.3), torch.nn.Linear(1024, 10)), (100, 1, 28, 28)


def mlp():
    return torch.nn.Sequential(
        torch.nn.Linear(784, 500), torch.nn.Tanh(), torch.nn.Linear(500, 300), torch.nn.Tanh(),
        torch.nn.Linear(300, 10)), (100, 784)


def measure(build, steps, device):
    torch.manual_seed(0)
    model, shape = build()
    model = model.to(device)
    x = torch.randn(*shape, device=device)
    y = torch.randint(0, 10, (shape[0],), device=device)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()  # waits for the GPU, as the TF.js bench reads its loss back

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) * 1000 / steps


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(f"PyTorch {torch.__version__} on {name}, {steps} steps")
    print("| engine | model | ms/step | samples/s |")
    print("|---|---|---|---|")
    for label, build in (("cnn", cnn), ("mlp", mlp)):
        ms = measure(build, steps, device)
        print(f"| PyTorch {device} | {label} | {ms:.2f} | {100 * 1000 / ms:.0f} |")


if __name__ == "__main__":
    main()
