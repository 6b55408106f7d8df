"""Physics engines behind one interface (sim.physics.base.Physics)."""
