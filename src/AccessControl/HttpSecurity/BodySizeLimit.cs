using Microsoft.AspNetCore.Http.Metadata;

namespace AccessControl.HttpSecurity;

/// <summary>
/// Endpoint metadata for an endpoint that legitimately takes a larger body than
/// <see cref="HttpSecurityOptions.MaxRequestBodyBytes"/> (the HR feed's batches); routing applies it to Kestrel's limit.
/// </summary>
public sealed record BodySizeLimit(long? MaxRequestBodySize) : IRequestSizeLimitMetadata;
