#!/usr/bin/env python3
"""NEO's MCP server checked with the official Python MCP SDK as the client.

Over streamable HTTP (`--url http://127.0.0.1:PORT/mcp`) and over stdio
(`--neo path/to/neo --api http://127.0.0.1:PORT`, which runs `neo mcp`): lists
the tools and resources, calls every tool with valid arguments and checks each
answer, calls tools with bad arguments and checks the error names the problem,
and reads a contract schema. Exits 1 on the first failure, saying what failed.
"""

import argparse
import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

TOOLS = {
    "get_ticker", "get_candles", "get_indicators", "get_portfolio", "get_positions",
    "get_signal_story", "risk_check", "list_flags", "run_backtest",
}


def fail(message):
    print(f"MCP CHECK FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def payload(result):
    """The tool's JSON answer (structured content, else the text block)."""
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def call(session, name, arguments, *, error=False):
    result = await session.call_tool(name, arguments)
    body = payload(result)
    if bool(result.is_error) != error:
        fail(f"{name}({arguments}): is_error={result.is_error}, answer {body}")
    return body


async def check(session, transport, signal_id):
    await session.initialize()
    tools = {t.name for t in (await session.list_tools()).tools}
    if tools != TOOLS:
        fail(f"{transport}: tools {sorted(tools)}, expected {sorted(TOOLS)}")
    ticker = await call(session, "get_ticker", {"instrument": "BTC-USDT"})
    if ticker.get("instrument") != "BTC-USDT" or "price" not in ticker:
        fail(f"get_ticker: {ticker}")
    candles = await call(session, "get_candles", {"instrument": "BTC-USDT", "interval": "5m", "count": 3})
    if len(candles["candles"]) != 3 or candles["interval"] != "5m":
        fail(f"get_candles: {candles}")
    ind = await call(session, "get_indicators", {"instrument": "BTC-USDT", "specs": ["rsi:14", "sma:20"]})
    if not isinstance(ind["values"].get("rsi_14"), float) or "desk" not in ind:
        fail(f"get_indicators: {ind}")
    portfolio = await call(session, "get_portfolio", {})
    if "equity" not in json.dumps(portfolio):
        fail(f"get_portfolio: {portfolio}")
    positions = await call(session, "get_positions", {})
    if "items" not in positions:
        fail(f"get_positions: {positions}")
    story = await call(session, "get_signal_story", {"id": signal_id})
    if story["signal"]["id"] != signal_id:
        fail(f"get_signal_story: {story}")
    intent = story["intents"][0] if story["intents"] else None
    if intent is not None:
        verdict = await call(session, "risk_check", {"intent": intent})
        if "approved" not in verdict:
            fail(f"risk_check: {verdict}")
    flags = await call(session, "list_flags", {})
    if len(flags["flags"]) < 10:
        fail(f"list_flags: {flags}")
    bt = await call(session, "run_backtest", {"instrument": "BTC-USDT", "fast": 5, "slow": 20})
    if bt["summary"]["bars"] < 20:
        fail(f"run_backtest: {bt}")
    # Bad input: an error naming the problem, never a crash.
    bad = await call(session, "get_candles", {"instrument": "BTC-USDT", "count": 0}, error=True)
    if "count" not in bad["error"]:
        fail(f"get_candles count 0: {bad}")
    bad = await call(session, "get_indicators", {"instrument": "BTC-USDT", "specs": ["yolo:3"]}, error=True)
    if "unknown indicator" not in bad["error"]:
        fail(f"get_indicators yolo: {bad}")
    bad = await call(session, "get_ticker", {"instrument": "BTC-USDT", "extra": 1}, error=True)
    if "extra" not in bad["error"]:
        fail(f"get_ticker extra: {bad}")
    resources = (await session.list_resources()).resources
    if not any(str(r.uri).endswith("/OrderIntentV1") for r in resources):
        fail(f"resources: {[str(r.uri) for r in resources]}")
    schema = await session.read_resource("neo://schemas/v1/OrderIntentV1")
    if "OrderIntentV1" not in schema.contents[0].text:
        fail("the OrderIntentV1 schema resource is empty")
    print(f"{transport}: {len(tools)} tools called, {len(resources)} resources, errors named")


async def over_http(url, key, signal_id):
    headers = {"Authorization": f"Bearer {key}"} if key else None
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await check(session, "streamable HTTP", signal_id)


async def over_stdio(neo, api, key, signal_id):
    args = ["mcp", "--url", api] + (["--key", key] if key else [])
    params = StdioServerParameters(command=neo, args=args)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await check(session, "stdio (neo mcp)", signal_id)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--api", required=True, help="NEO's base URL, http://127.0.0.1:PORT")
    p.add_argument("--neo", help="the neo binary, to check `neo mcp` over stdio")
    p.add_argument("--key", help="an admin API key, when NEO has keys")
    p.add_argument("--signal", required=True, help="a signal id whose story the tools read")
    a = p.parse_args()
    asyncio.run(over_http(a.api.rstrip("/") + "/mcp", a.key, a.signal))
    if a.neo:
        asyncio.run(over_stdio(a.neo, a.api, a.key, a.signal))


if __name__ == "__main__":
    main()
