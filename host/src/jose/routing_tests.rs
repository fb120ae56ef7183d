use super::*;

fn segment(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token(header: &[u8], payload: &[u8]) -> String {
    format!("{}.{}.c2ln", segment(header), segment(payload))
}

const HEADER: &[u8] = br#"{"alg":"RS256","kid":"k1"}"#;
const PAYLOAD: &[u8] = br#"{"iss":"https://issuer.example","sub":"s"}"#;

/// Headers and payloads around every rule of the full parse.
fn awkward_json() -> Vec<Vec<u8>> {
    let deep = |depth: usize| {
        format!(
            r#"{{"iss":"i","kid":"k","x":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
        .into_bytes()
    };
    let mut cases: Vec<Vec<u8>> = [
        &br#"{"iss":"i","kid":"k"}"#[..],
        br#"{"iss":"i","iss":"j","kid":"k","kid":"l"}"#,
        br#"{"iss":"i","iss":7}"#,
        br#"{"iss":7,"iss":"i"}"#,
        br#"{"kid":"k","kid":null,"iss":"i"}"#,
        br#"{"kid":null,"kid":"k","iss":"i"}"#,
        br#"{"iss":""}"#,
        br#"{"kid":"","iss":"i"}"#,
        br#"{"iss":null}"#,
        br#"{"iss":["i"]}"#,
        br#"{"iss":{"iss":"i"}}"#,
        br#"{"i\u0073s":"escaped key","kid":"\u006b"}"#,
        br#"{"iss":"caf\u00e9 \ud83d\ude00"}"#,
        br#"{"iss":"\ud800"}"#,
        br#"{"iss":"i","n":1e400}"#,
        br#"{"iss":"i","n":-1e400}"#,
        br#"{"iss":"i","n":18446744073709551616}"#,
        br#"{"iss":"i","n":-9223372036854775809}"#,
        br#"{"iss":"i","n":01}"#,
        br#"{"iss":"i","n":[1,2,{"a":[true,false,null]}]}"#,
        br#"{"iss":"i",}"#,
        br#"{"iss":"i"} x"#,
        b" \n{\"iss\" : \"i\" }\t",
        br#"{"iss":"i"}{}"#,
        br#"["iss","i"]"#,
        br#""iss""#,
        b"",
        b"{",
        b"{}",
        br#"{"iss":"i","a":{"b":}}"#,
        br#"{1:"i"}"#,
        b"{\"iss\":\"\xff\"}",
        b"{\"iss\":\"i\",\"x\":\"\xc3\"}",
        b"{\"iss\":\"i\",\"\xff\":1}",
        b"{\"iss\":\"i\",\"x\":{\"\xff\":1}}",
        b"{\"iss\":\"tab\there\"}",
    ]
    .iter()
    .map(|c| c.to_vec())
    .collect();
    cases.extend([deep(100), deep(126), deep(127), deep(128), deep(300)]);
    cases
}

#[test]
fn reads_what_the_full_parse_reads_and_refuses_what_it_refuses() {
    let mut plain = 0;
    for json in awkward_json() {
        for token in [token(HEADER, &json), token(&json, PAYLOAD)] {
            let full = RoutingFields::read_fully(&token);
            let read = RoutingFields::read(&token);
            assert_eq!(read, full, "{}", String::from_utf8_lossy(&json));
            // The plain read is taken exactly when the full parse succeeds.
            assert_eq!(
                RoutingFields::read_plainly(&token).is_some(),
                full.is_ok(),
                "{}",
                String::from_utf8_lossy(&json)
            );
            plain += usize::from(full.is_ok());
        }
    }
    assert!(
        plain > 10,
        "the corpus has tokens both paths accept: {plain}"
    );
}

#[test]
fn an_ordinary_token_is_read_plainly() {
    assert_eq!(
        RoutingFields::read_plainly(&token(HEADER, PAYLOAD)),
        Some(RoutingFields {
            issuer: "https://issuer.example".into(),
            kid: Some("k1".into()),
        })
    );
}

#[test]
fn the_last_of_a_member_named_twice_counts_as_in_the_full_parse() {
    let read = RoutingFields::read(&token(
        br#"{"kid":"a","kid":"b"}"#,
        br#"{"iss":"first","iss":"second"}"#,
    ))
    .expect("readable");
    assert_eq!(read.issuer, "second");
    assert_eq!(read.kid.as_deref(), Some("b"));
}

#[test]
fn what_is_not_a_jwt_gets_the_full_parse_s_message() {
    for (token, expected) in [
        ("a.b".to_string(), "2 dot-separated segments"),
        ("a.b.c.d".to_string(), "4 dot-separated segments"),
        (
            format!("{}.{}.", segment(HEADER), segment(PAYLOAD)),
            "not signed",
        ),
        (
            format!("{}.!!!.c2ln", segment(HEADER)),
            "not valid base64url",
        ),
        (token(HEADER, b"[]"), "not a JSON object"),
        (token(HEADER, br#"{"sub":"s"}"#), "no iss claim"),
        (token(HEADER, br#"{"iss":""}"#), "iss claim is empty"),
        (token(HEADER, br#"{"iss":1}"#), "not a string"),
    ] {
        let message = RoutingFields::read(&token).expect_err(expected);
        assert!(message.contains(expected), "{expected}: {message}");
    }
}
