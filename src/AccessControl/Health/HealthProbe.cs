using AccessControl.Hosting;

namespace AccessControl.Health;

/// <summary>Reads what <see cref="EdgeHealth"/> checks from the running service, at one moment, from any thread.</summary>
public static class HealthProbe
{
    public static HealthInputs Read(EdgeService edge)
    {
        ArgumentNullException.ThrowIfNull(edge);
        var (free, total) = Disk(edge.DataDirectory);
        return new HealthInputs
        {
            Log = edge.Pipeline.LogState,
            BrokerConnected = edge.Connection?.IsConnected ?? false,
            QueueDepth = edge.Pipeline.QueueDepth,
            QueueCapacity = edge.Pipeline.QueueCapacity,
            DiskFreeBytes = free,
            DiskTotalBytes = total,
            LogHead = edge.Writer.HeadSeq,
            IndexWatermark = edge.IndexWatermark,
            Readers = edge.Configuration.Topology.Readers.Count,
            ReadersOffline = edge.Pipeline.ReadersOffline,
            Controllers = edge.Configuration.Topology.Controllers.Count,
            ControllersOffline = edge.Pipeline.ControllersOffline,
            Doors = edge.Configuration.Topology.Doors.Count,
            DoorsOffline = edge.Pipeline.DoorsOffline,
            DoorsReleased = edge.Pipeline.Fire.ReleasedDoors.Count(),
            OutageJournal = edge.OutageJournalState,
            LogIntegrity = edge.LogIntegrity,
        };
    }

    /// <summary>The data folder's file system (statvfs on Linux: any path on it will do); nulls if it cannot be read.</summary>
    private static (long? Free, long? Total) Disk(string folder)
    {
        try
        {
            var drive = new DriveInfo(Path.GetFullPath(folder));
            return (drive.AvailableFreeSpace, drive.TotalSize);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return (null, null);
        }
    }
}
