//! Fedora helpers for taskhost plugins, on top of `taskhost-sdk`: a Koji
//! client ([`koji`]) and the XML-RPC it speaks ([`xmlrpc`]). The shipped
//! `koji`, `bodhi` and `distgit` directives use it; a plugin that does not
//! talk to Fedora's services does not need it.
//!
//! Every request goes through the host's http capability, so the plugin's
//! manifest must declare the hub's and topurl's URLs and the operator's
//! policy must grant them.
//!
//! ```no_run
//! use taskhost_fedora::koji::{self, Koji, RpmFilter};
//!
//! # fn main() -> taskhost_sdk::Result<()> {
//! let nvr = "xchat-2.8.8-21.fc20";
//! assert_eq!(koji::fedora_release(&koji::parse_nvr(nvr)?.release), Some(20));
//! let filter = RpmFilter::new(&["x86_64".into()], &[], false, false);
//! let (build, files) = Koji::fedora().download_build(nvr, &filter, "rpms")?;
//! println!("{}: {} RPMs", build.nvr, files.len());
//! # Ok(())
//! # }
//! ```

pub mod koji;
pub mod xmlrpc;
