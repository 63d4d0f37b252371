namespace AccessControl.Hosting;

/// <summary>
/// Settings the service cannot run with (a flag, <c>appsettings.json</c> or an <c>AccessControl__...</c> variable): the
/// start stops with every problem named, before anything is opened or written.
/// </summary>
public sealed class SettingsException(string message, Exception? inner = null) : InvalidOperationException(message, inner);
