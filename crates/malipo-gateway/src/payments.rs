//! Starting payments: the outbound half of the merchant API (STK push, Paystack checkout).
