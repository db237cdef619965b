//! The message mixes both parse benches read.

pub(crate) const BINANCE: [&str; 3] = [
    r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000100,"s":"BTCUSDT","t":3650012345,"p":"64012.55000000","q":"0.01500000","T":1700000000099,"m":true,"M":true}}"#,
    r#"{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"64012.54000000","B":"1.31000000","a":"64012.55000000","A":"0.42000000"}}"#,
    r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1700000000100,"s":"BTCUSDT","k":{"t":1700000000000,"T":1700000059999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"64000.10","c":"64012.55","h":"64020.00","l":"63990.00","v":"12.50000000","n":100,"x":false,"q":"800000.0","V":"6.0","Q":"384000.0","B":"0"}}}"#,
];

pub(crate) const COINBASE: [&str; 2] = [
    r#"{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":7,"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}"#,
    r#"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":8,"events":[{"type":"update","trades":[{"trade_id":"000000000","product_id":"BTC-USD","price":"21932.98","size":"0.3","side":"BUY","time":"2023-02-09T20:19:35.396Z"}]}]}"#,
];

pub(crate) const KRAKEN: [&str; 3] = [
    r#"{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":64012.5,"bid_qty":0.5,"ask":64012.6,"ask_qty":1.2,"last":64012.6,"volume":1200.5,"vwap":64000.1,"low":63000.0,"high":65000.0,"change":12.5,"change_pct":0.02}]}"#,
    r#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":64012.6,"qty":0.015,"ord_type":"market","trade_id":88311,"timestamp":"2023-09-25T07:49:37.708706Z"}]}"#,
    r#"{"channel":"ohlc","type":"update","data":[{"symbol":"BTC/USD","open":64000.1,"high":64020.0,"low":63990.0,"close":64012.6,"trades":100,"volume":12.5,"vwap":64005.0,"interval_begin":"2023-09-25T07:49:00.000000000Z","interval":1,"timestamp":"2023-09-25T07:50:00.000000Z"}]}"#,
];
