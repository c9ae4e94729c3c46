"""`commerce bench` (`make bench`): the order path and its parts, each measured beside a baseline
in the same run, on servers the bench starts itself.

- `run`: the command (servers, sections, report); `app`: the `commerce api` and `commerce
  worker` children it drives; `profiling`: `python -m commerce.bench.profiling`, py-spy and top
  during a run.
- One module per measured thing: `eventstore` (appends), `orders` and `bare_workflow` (an order
  end to end, and its bare-Temporal baseline), `sweep` (orders by concurrency and by worker
  count), `memory` (RSS), `webhooks` (delivery lag), `cart` and `cart_rows` (add-to-cart);
  `soak`, `soak_report` and `soak_text` (`--soak N`: latency, RSS, bytes and CPU per order as
  the orders pile up, beside the bare workflow's).
- The results: `measure` (measured loops and comparison rows), `report` (the machine, the table,
  the JSON), `plot` (`--plot`).
"""
