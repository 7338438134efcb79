//! The derives of directive params.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Error, Expr, Fields, Ident, LitStr, Result};

/// What `#[param(...)]` and `#[serde(...)]` say about one field.
#[derive(Default)]
struct FieldAttrs {
    default: Option<Expr>,
    kind: Option<Ident>,
    choices: Option<syn::ExprArray>,
    rename: Option<String>,
    flatten: bool,
}

fn field_attrs(field: &syn::Field) -> Result<FieldAttrs> {
    let mut attrs = FieldAttrs::default();
    for attr in &field.attrs {
        if attr.path().is_ident("param") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("default") {
                    attrs.default = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("type") {
                    attrs.kind = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("choices") {
                    attrs.choices = Some(meta.value()?.parse()?);
                } else {
                    return Err(meta.error(
                        "expected `default = EXPR`, `type = ParamType` or `choices = [\"a\", ...]`",
                    ));
                }
                Ok(())
            })?;
        } else if attr.path().is_ident("serde") {
            // Only what changes the param's name; serde checks the rest.
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    attrs.rename = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if meta.path.is_ident("flatten") {
                    attrs.flatten = true;
                } else if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<Expr>()?;
                }
                Ok(())
            })?;
        }
    }
    Ok(attrs)
}

/// The `///` lines of a field, joined into one line.
fn doc(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ")
}

pub fn directive_params(input: &DeriveInput) -> Result<TokenStream> {
    let Data::Struct(data) = &input.data else {
        return Err(Error::new_spanned(input, "DirectiveParams needs a struct"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(Error::new_spanned(
            input,
            "DirectiveParams needs named fields",
        ));
    };
    let mut params = Vec::new();
    for field in &fields.named {
        let attrs = field_attrs(field)?;
        let ident = field.ident.as_ref().expect("named field");
        let ty = &field.ty;
        let doc = doc(&field.attrs);
        if doc.is_empty() {
            return Err(Error::new_spanned(
                ident,
                "a directive param needs a `///` line: `runtask plugin inspect` shows it",
            ));
        }
        let name = if attrs.flatten {
            "**".to_string()
        } else {
            attrs
                .rename
                .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string())
        };
        let kind = match &attrs.kind {
            Some(kind) => {
                quote!(::core::option::Option::Some(::taskhost_sdk::directive::ParamType::#kind))
            }
            None if attrs.flatten => quote!(::core::option::Option::Some(
                ::taskhost_sdk::directive::ParamType::Any
            )),
            None => quote!(::core::option::Option::None),
        };
        let default = match &attrs.default {
            Some(expr) => {
                quote!(::core::option::Option::Some(::taskhost_sdk::directive::__private::json(&(#expr))))
            }
            None => quote!(::core::option::Option::None),
        };
        let optional = attrs.flatten;
        let choices = match &attrs.choices {
            Some(list) => quote!(::core::option::Option::Some(&#list)),
            None => quote!(::core::option::Option::None),
        };
        params.push(quote! {
            ::taskhost_sdk::directive::__private::param::<#ty>(#name, #kind, #default, #optional, #choices, #doc)
        });
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::taskhost_sdk::directive::DirectiveParams for #name #ty_generics #where_clause {
            fn params() -> ::std::vec::Vec<::taskhost_sdk::directive::Param> {
                ::std::vec![#(#params),*]
            }
        }
    })
}

pub fn param_value(input: &DeriveInput) -> Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(Error::new_spanned(
            input,
            "ParamValue needs an enum of unit variants",
        ));
    };
    let name = &input.ident;
    let mut variants = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(Error::new_spanned(v, "ParamValue needs unit variants"));
        }
        let ident = &v.ident;
        variants.push(quote!(#name::#ident));
    }
    Ok(quote! {
        impl ::taskhost_sdk::directive::ParamValue for #name {
            const TYPE: ::taskhost_sdk::directive::ParamType = ::taskhost_sdk::directive::ParamType::String;
            fn choices() -> ::std::vec::Vec<::std::string::String> {
                [#(#variants),*]
                    .iter()
                    .filter_map(::taskhost_sdk::directive::__private::choice)
                    .collect()
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: &str) -> Result<String> {
        directive_params(&syn::parse_str(input)?).map(|t| t.to_string())
    }

    #[test]
    fn names_docs_defaults_types_and_choices_come_from_the_struct() {
        let out = expand(
            r#"struct P {
                /// the NVR
                /// to fetch
                koji_build: String,
                /// its type
                #[serde(rename = "type", default)]
                item_type: Option<String>,
                /// arches
                #[param(type = StringOrList, default = ["noarch"], choices = ["noarch", "x86_64"])]
                arch: Vec<String>,
                /// the rest
                #[serde(flatten)]
                rest: Map<String, Value>,
            }"#,
        )
        .unwrap();
        assert!(
            out.contains(r#""koji_build" , :: core :: option :: Option :: None"#),
            "{out}"
        );
        assert!(out.contains(r#""the NVR to fetch""#), "{out}");
        assert!(
            out.contains(r#"param :: < Option < String > > ("type""#),
            "{out}"
        );
        assert!(out.contains("ParamType :: StringOrList"), "{out}");
        assert!(out.contains(r#"json (& (["noarch"]))"#), "{out}");
        assert!(out.contains(r#"Some (& ["noarch" , "x86_64"])"#), "{out}");
        assert!(out.contains(r#"("**" , :: core :: option :: Option :: Some (:: taskhost_sdk :: directive :: ParamType :: Any)"#), "{out}");
    }

    #[test]
    fn a_param_without_a_doc_line_or_with_an_unknown_attribute_is_an_error() {
        let e = expand("struct P { file: String }").unwrap_err();
        assert!(e.to_string().contains("needs a `///` line"), "{e}");
        let e = expand("struct P { /// f\n #[param(defualt = 1)] file: String }").unwrap_err();
        assert!(
            e.to_string().starts_with("expected `default = EXPR`"),
            "{e}"
        );
        let e = expand("enum P { A }").unwrap_err();
        assert!(e.to_string().contains("needs a struct"), "{e}");
    }

    #[test]
    fn param_values_are_unit_enums() {
        let input = syn::parse_str("enum Action { Download, DownloadTag }").unwrap();
        let out = param_value(&input).unwrap().to_string();
        assert!(
            out.contains("[Action :: Download , Action :: DownloadTag]"),
            "{out}"
        );
        let input = syn::parse_str("enum Action { Download(String) }").unwrap();
        assert!(param_value(&input).is_err());
    }
}
