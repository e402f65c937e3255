//! Cancellation-point testing on the story's handler: an order is charged,
//! then recorded in the ledger, then published to the broker.
//!
//! `ctx::testing::CancelPoints` runs the handler once uncancelled, then
//! once cancelled at each of its checked awaits, on tokio's paused clock,
//! and checks the shop's invariant after every run: *every charge is
//! recorded*. The handler as first written breaks it when the request is
//! cancelled while the record is in flight; the fixed handler keeps it.
//!
//! ```sh
//! cargo run --example cancel_points --features testing
//! ```

use std::cell::RefCell;
use std::time::Duration;

use ctx::testing::{CancelPoints, Outcome};
use ctx::{Context, Error};

/// The payment provider, the ledger and the broker, in memory. Each call
/// takes a few (paused) milliseconds and takes effect when it completes.
#[derive(Default)]
struct Shop {
    charged: RefCell<Vec<u32>>,
    recorded: RefCell<Vec<u32>>,
    published: RefCell<Vec<String>>,
}

impl Shop {
    async fn charge(&self, order: u32) {
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.charged.borrow_mut().push(order);
    }

    async fn record(&self, order: u32) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.recorded.borrow_mut().push(order);
    }

    async fn publish(&self, receipt: String) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.published.borrow_mut().push(receipt);
    }

    /// The invariant: no money is taken for an order the ledger lacks.
    fn every_charge_recorded(&self) -> bool {
        self.charged
            .borrow()
            .iter()
            .all(|order| self.recorded.borrow().contains(order))
    }

    fn state(&self) -> String {
        let mark = |done: bool| if done { "yes" } else { "no" };
        format!(
            "charged {}, recorded {}, published {}",
            mark(!self.charged.borrow().is_empty()),
            mark(!self.recorded.borrow().is_empty()),
            mark(!self.published.borrow().is_empty())
        )
    }
}

// The handlers race every step but one against the request's context with
// `ctx.run`, which is what `#[ctx_fn]` makes of each `.await` of its body.

/// As first written: each step is raced against the request, so a client
/// that leaves while the record is in flight leaves a charge unrecorded.
async fn place_order(ctx: Context<'_>, shop: &Shop, order: u32) -> Result<String, Error> {
    ctx.run(shop.charge(order)).await?;
    ctx.run(shop.record(order)).await?;
    let receipt = format!("receipt for order {order}");
    ctx.run(shop.publish(receipt.clone())).await?;
    Ok(receipt)
}

/// Fixed: once the money is taken, the record is made whatever happens to
/// the request (a plain await, not raced; `#[uncancelable]` in a
/// `#[ctx_fn]`).
async fn place_order_fixed(ctx: Context<'_>, shop: &Shop, order: u32) -> Result<String, Error> {
    ctx.run(shop.charge(order)).await?;
    shop.record(order).await;
    let receipt = format!("receipt for order {order}");
    ctx.run(shop.publish(receipt.clone())).await?;
    Ok(receipt)
}

type Run = Outcome<(Result<String, Error>, Shop)>;

/// Prints one table row per run; returns how many broke the invariant.
fn table(title: &str, outcomes: &[Run]) -> usize {
    println!("{title}\n");
    println!(
        "{:<6} {:<31} {:<14} {:<63} every charge recorded",
        "point", "source location", "in flight", "outcome"
    );
    let mut broken = 0;
    for outcome in outcomes {
        let (point, location, in_flight) = match outcome.cancelled_at {
            None => ("-".to_owned(), "(not cancelled)".to_owned(), "-".to_owned()),
            Some(point) => (
                point.index.to_string(),
                point.location.to_string(),
                match (point.in_flight, point.awaited_name()) {
                    (true, Some(awaited)) => awaited,
                    (true, None) => "its await".to_owned(),
                    (false, _) => "nothing".to_owned(),
                },
            ),
        };
        let (result, shop) = &outcome.output;
        let result = match result {
            Ok(_) => "Ok".to_owned(),
            Err(err) => format!("Err({err})"),
        };
        let held = shop.every_charge_recorded();
        broken += usize::from(!held);
        println!(
            "{point:<6} {location:<31} {in_flight:<14} {:<63} {}",
            format!("{result}; {}", shop.state()),
            if held { "yes" } else { "NO" }
        );
    }
    println!();
    broken
}

/// Every run of `handler` on a fresh shop, uncancelled, then cancelled at
/// each checkpoint in turn.
fn runs(handler: impl AsyncFn(Context<'static>, &Shop, u32) -> Result<String, Error>) -> Vec<Run> {
    CancelPoints::new(|ctx| async {
        let shop = Shop::default();
        let result = handler(ctx, &shop, 7).await;
        (result, shop)
    })
    .outcomes()
}

fn main() {
    let first = runs(place_order);
    let broken = table(
        "place_order, as first written: charge, record, publish",
        &first,
    );
    let fixed = runs(place_order_fixed);
    let still_broken = table(
        "place_order_fixed: the record is not raced against the request",
        &fixed,
    );
    println!(
        "{broken} of {} runs of the first version take money they never record; \
         {still_broken} of {} runs of the fixed version do.",
        first.len(),
        fixed.len()
    );
}
