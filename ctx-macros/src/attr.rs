//! The options of `#[ctx_fn(...)]` and `#[detached(...)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Path, Token};

mod kw {
    syn::custom_keyword!(timeout);
}

/// Options of `#[ctx_fn]`.
#[derive(Default)]
pub(crate) struct CtxFnArgs {
    /// The path generated code uses for the `ctx` crate: `::ctx` unless the
    /// user renamed the dependency (`crate = my_ctx`).
    pub(crate) krate: Krate,
}

/// Options of `#[detached]`.
#[derive(Default)]
pub(crate) struct DetachedArgs {
    pub(crate) krate: Krate,
    /// The detached work's own budget, in nanoseconds.
    pub(crate) timeout: Option<u64>,
}

impl Parse for CtxFnArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut krate = None;
        parse_options(input, "ctx_fn", "`crate = path`", |input| {
            if input.peek(Token![crate]) {
                return parse_crate(input, &mut krate).map(|()| true);
            }
            Ok(false)
        })?;
        Ok(CtxFnArgs {
            krate: krate.map(Krate).unwrap_or_default(),
        })
    }
}

impl Parse for DetachedArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut krate = None;
        let mut timeout = None;
        let known = "`timeout = \"5s\"` and `crate = path`";
        parse_options(input, "detached", known, |input| {
            if input.peek(Token![crate]) {
                return parse_crate(input, &mut krate).map(|()| true);
            }
            if input.peek(kw::timeout) {
                let key = input.parse::<kw::timeout>()?;
                input.parse::<Token![=]>()?;
                if timeout.is_some() {
                    return Err(syn::Error::new(
                        key.span,
                        "remove the second `timeout`: it is given twice",
                    ));
                }
                let lit = input.parse::<LitStr>().map_err(|err| {
                    syn::Error::new(
                        err.span(),
                        "`timeout` takes a duration string with a unit, like `timeout = \"5s\"`",
                    )
                })?;
                let nanos =
                    parse_duration(&lit.value()).map_err(|why| syn::Error::new(lit.span(), why))?;
                timeout = Some(nanos);
                return Ok(true);
            }
            Ok(false)
        })?;
        Ok(DetachedArgs {
            krate: krate.map(Krate).unwrap_or_default(),
            timeout,
        })
    }
}

/// The path of the `ctx` crate in generated code.
pub(crate) struct Krate(pub(crate) TokenStream);

impl Default for Krate {
    fn default() -> Self {
        Krate(quote!(::ctx))
    }
}

/// Parses `key = value, ...`, handing each key to `option`, which returns
/// whether it knew the key; an unknown key is an error at that key, which
/// lists the `known` options.
fn parse_options(
    input: ParseStream<'_>,
    macro_name: &str,
    known: &str,
    mut option: impl FnMut(ParseStream<'_>) -> syn::Result<bool>,
) -> syn::Result<()> {
    while !input.is_empty() {
        if !option(input)? {
            let unknown: TokenStream = input.parse::<proc_macro2::TokenTree>()?.into();
            return Err(syn::Error::new_spanned(
                unknown,
                format!("unknown option for `#[{macro_name}]`: the options are {known}"),
            ));
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(())
}

fn parse_crate(input: ParseStream<'_>, krate: &mut Option<TokenStream>) -> syn::Result<()> {
    let key = input.parse::<Token![crate]>()?;
    input.parse::<Token![=]>()?;
    if krate.is_some() {
        return Err(syn::Error::new(
            key.span,
            "remove the second `crate`: it is given twice",
        ));
    }
    let path = input.parse::<Path>()?;
    *krate = Some(quote!(#path));
    Ok(())
}

/// Parses a Go-style duration (`"1h30m"`, `"1.5s"`, `"250ms"`) into
/// nanoseconds; the units are `ns`, `us` (or `µs`), `ms`, `s`, `m` and `h`.
fn parse_duration(text: &str) -> Result<u64, String> {
    let malformed = || {
        format!(
            "malformed duration `{text}`: write a number and a unit, like \"5s\", \"250ms\" or \"1m30s\" (units: ns, us, ms, s, m, h)"
        )
    };
    let too_long = || format!("duration `{text}` is too long: at most ~584 years");
    if text.is_empty() {
        return Err(malformed());
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(malformed)?;
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return Err(malformed()),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(malformed());
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| malformed())?
        };
        let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(too_long)?;
        let mut scale = unit_nanos;
        for digit in fraction.chars() {
            let digit = digit.to_digit(10).ok_or_else(malformed)?;
            scale /= 10;
            nanos = nanos
                .checked_add(u128::from(digit) * scale)
                .ok_or_else(too_long)?;
        }
        total = total.checked_add(nanos).ok_or_else(too_long)?;
        rest = after;
    }
    if total == 0 {
        return Err(format!(
            "a zero timeout (`{text}`) would end the work before it starts: give it a budget, like \"5s\", or remove `timeout`"
        ));
    }
    u64::try_from(total).map_err(|_| too_long())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("5s"), Ok(5_000_000_000));
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("10us"), Ok(10_000));
        assert_eq!(parse_duration("3ns"), Ok(3));
        assert_eq!(parse_duration(".5s"), Ok(500_000_000));
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for bad in [
            "", "5", "s", "5 s", "5sec", "1..5s", ".s", "5d", "-5s", "0s", "0ms0s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
        assert!(parse_duration("99999999999h")
            .unwrap_err()
            .contains("too long"));
        // Whole hours just under `u128::MAX` nanoseconds, then a fraction
        // that tips them over.
        assert!(parse_duration("94522879700260684295381835.9h")
            .unwrap_err()
            .contains("too long"));
    }
}
