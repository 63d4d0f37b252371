using System.Globalization;
using AccessControl.Display;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace AccessControl.Hosting;

/// <summary>
/// The service's console log (a terminal, or journald under systemd): one line per entry, and nothing in it that a
/// terminal would act on. Much of what the service logs was written by someone else (a client id, a topic, a file
/// name, an actor, an exception's message quoting a payload); a <c>\r</c>, an <c>ESC[2K</c> or a U+202E in it would
/// otherwise overwrite, erase or reorder the line an operator reads, or a newline forge the next one.
/// </summary>
public static class ConsoleLog
{
    /// <summary>The console logger with <see cref="ConsoleLogFormatter"/>, timestamps read from <paramref name="time"/>.</summary>
    /// <param name="timestampFormat">How the local time starts each line; <see langword="null"/> for no time.</param>
    public static ILoggingBuilder AddServiceConsole(this ILoggingBuilder logging, TimeProvider time, string? timestampFormat = "HH:mm:ss ")
    {
        ArgumentNullException.ThrowIfNull(logging);
        logging.AddConsole(options => options.FormatterName = ConsoleLogFormatter.FormatterName);
        logging.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ConsoleFormatter>(new ConsoleLogFormatter(time, timestampFormat)));
        return logging;
    }
}

/// <summary>
/// The single-line format of the built-in simple console formatter (<c>09:15:02 warn: Category[0] message</c>, no
/// colours), with the message and the exception shown through <see cref="TerminalText.Show"/>: every control, format
/// and line-separator character, whoever put it there, is written as an escape (<c>\r</c>, <c>\x1B</c>, <c>\u202E</c>).
/// </summary>
/// <remarks>
/// That includes the line breaks of an exception's stack trace, which come from .NET, not from a peer: they are shown
/// as <c>\n</c> rather than kept, so that an entry stays one line (as the single-line format made it before, with spaces)
/// and an exception's message, which may quote what a client sent, cannot start a line of its own. Ordinary text is
/// written unchanged. Scopes are not written (the service's configuration never asked for them).
/// </remarks>
public sealed class ConsoleLogFormatter(TimeProvider time, string? timestampFormat) : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "accesscontrol";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        ArgumentNullException.ThrowIfNull(textWriter);
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (logEntry.Exception is null && string.IsNullOrEmpty(message))
        {
            return;
        }

        if (timestampFormat is not null)
        {
            textWriter.Write(time.GetLocalNow().ToString(timestampFormat, CultureInfo.InvariantCulture));
        }

        textWriter.Write(Level(logEntry.LogLevel));
        textWriter.Write(": ");
        textWriter.Write(logEntry.Category);
        textWriter.Write('[');
        textWriter.Write(logEntry.EventId.Id.ToString(CultureInfo.InvariantCulture));
        textWriter.Write(']');
        if (!string.IsNullOrEmpty(message))
        {
            textWriter.Write(' ');
            textWriter.Write(TerminalText.Show(message));
        }

        if (logEntry.Exception is { } exception)
        {
            textWriter.Write(' ');
            textWriter.Write(TerminalText.Show(exception.ToString()));
        }

        textWriter.WriteLine();
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => level.ToString(),
    };
}
